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
        return create(device, threads, null);
    }

    @Override
    public TensorOps create(Device device, int threads, io.cohort.device.DeviceStream stream) {
        if (!(device instanceof CudaDevice cuda)) {
            throw new CohortException(device.name() + " is a CUDA device Cohort did not open (" + device.getClass().getName() + ")");
        }
        if (stream == null) {
            return new CudaTensorOps(cuda);
        }
        if (!(stream instanceof io.cohort.cuda.CudaStream s) || stream.device() != device) {
            throw new CohortException("ops on " + device.name() + " cannot enqueue on " + stream + ": not a CUDA stream of that device");
        }
        return new CudaTensorOps(cuda, s);
    }
}
