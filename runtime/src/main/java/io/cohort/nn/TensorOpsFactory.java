package io.cohort.nn;

import io.cohort.core.CohortException;
import io.cohort.device.Device;
import io.cohort.nn.host.HostTensorOps;

/** The {@link TensorOps} for a device. */
public final class TensorOpsFactory {
    private TensorOpsFactory() {
    }

    /** {@code threads}: CPU threads a host device's GEMMs may use. */
    public static TensorOps forDevice(Device device, int threads) {
        return switch (device.kind()) {
            case HOST -> new HostTensorOps(device, threads);
            case CUDA -> throw new CohortException("model compute on " + device.name() + " is not available: "
                    + "the GPU path covers GEMM only (io.cohort.cuda.blas); run the model on host devices "
                    + "(see docs/tensor-parallel.md)");
        };
    }
}
