package io.cohort.nn.cuda;

import io.cohort.core.CohortException;
import io.cohort.cuda.CudaDevice;
import io.cohort.device.Device;
import io.cohort.device.DeviceKind;
import io.cohort.nn.TensorOps;
import io.cohort.nn.TensorOpsProvider;

/** Registers {@link CudaTensorOps} for CUDA devices (META-INF/services/io.cohort.nn.TensorOpsProvider). */
public final class CudaTensorOpsProvider implements TensorOpsProvider {
    @Override
    public DeviceKind kind() {
        return DeviceKind.CUDA;
    }

    @Override
    public TensorOps create(Device device, int threads) {
        if (!(device instanceof CudaDevice cuda)) {
            throw new CohortException(device.name() + " is a CUDA device Cohort did not open (" + device.getClass().getName() + ")");
        }
        return new CudaTensorOps(cuda);
    }
}
