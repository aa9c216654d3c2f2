package io.cohort.nn;

import io.cohort.core.CohortException;
import io.cohort.device.Device;
import io.cohort.device.DeviceKind;
import io.cohort.device.host.HostKernels;
import io.cohort.nn.host.HostTensorOps;
import java.util.ServiceLoader;

/** The {@link TensorOps} for a device: built in for host devices, a {@link TensorOpsProvider} for others. */
public final class TensorOpsFactory {
    private TensorOpsFactory() {
    }

    /** {@code threads}: CPU threads a host device's GEMMs may use. */
    public static TensorOps forDevice(Device device, int threads) {
        if (device.kind() == DeviceKind.HOST) {
            if (!HostKernels.vectorised()) { // checked before HostTensorOps loads the Vector API classes
                throw new CohortException("the model's host ops need the Vector API: start java with "
                        + "--add-modules jdk.incubator.vector");
            }
            return new HostTensorOps(device, threads);
        }
        for (TensorOpsProvider p : ServiceLoader.load(TensorOpsProvider.class)) {
            if (p.kind() == device.kind()) {
                return p.create(device, threads);
            }
        }
        throw new CohortException("no model compute for " + device.name() + ": no " + TensorOpsProvider.class.getSimpleName()
                + " for " + device.kind() + " devices on the class path (is cohort-cuda there?)");
    }
}
