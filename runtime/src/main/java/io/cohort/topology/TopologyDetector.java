package io.cohort.topology;

import io.cohort.device.Device;
import java.util.List;

/** Finds how a set of devices is connected. */
public interface TopologyDetector {
    Topology detect(List<? extends Device> devices);
}
