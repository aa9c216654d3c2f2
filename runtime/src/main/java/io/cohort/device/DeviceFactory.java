package io.cohort.device;

import io.cohort.topology.TopologyDetector;

/**
 * Opens devices of one kind, found with {@link java.util.ServiceLoader}: the actors module provides host
 * devices, cuda/ provides GPUs. Lets tools pick "CUDA if any, else host" without a hard dependency on a GPU.
 */
public interface DeviceFactory {

    DeviceKind kind();

    /** Devices of this kind usable now; 0 when the driver or the hardware is missing (never throws). */
    int available();

    /** Opens device {@code ordinal} (0 .. available()-1; any ordinal for host devices). The caller closes it. */
    Device open(int ordinal);

    /** How devices of this kind are connected. */
    TopologyDetector topologyDetector();
}
