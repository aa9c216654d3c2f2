package io.cohort.cuda;

import io.cohort.cuda.topology.CudaTopologyDetector;
import io.cohort.device.DeviceFactory;
import io.cohort.device.DeviceKind;
import io.cohort.topology.TopologyDetector;

/** ServiceLoader entry for CUDA devices, so the CLI finds GPUs without depending on this module. */
public final class CudaDeviceFactory implements DeviceFactory {

    @Override
    public DeviceKind kind() {
        return DeviceKind.CUDA;
    }

    @Override
    public int available() {
        return CudaDevices.count();
    }

    @Override
    public CudaDevice open(int ordinal) {
        return CudaDevices.open(ordinal);
    }

    @Override
    public TopologyDetector topologyDetector() {
        return new CudaTopologyDetector(CudaConfig.defaults());
    }
}
