package io.cohort.nn;

import io.cohort.device.Device;
import io.cohort.device.DeviceKind;

/**
 * Supplies {@link TensorOps} for devices of one kind, found with {@link java.util.ServiceLoader}: the runtime
 * has the host's built in; cuda/ adds the GPU's (cuBLAS GEMMs and its own kernels).
 */
public interface TensorOpsProvider {

    DeviceKind kind();

    /** Ops on {@code device}; {@code threads}: CPU threads the ops may use (host devices). */
    TensorOps create(Device device, int threads);
}
