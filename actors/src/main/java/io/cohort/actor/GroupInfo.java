package io.cohort.actor;

import io.cohort.backend.BackendChoice;
import io.cohort.device.Device;
import io.cohort.memory.MemoryPool;
import io.cohort.topology.Topology;
import java.util.List;

/**
 * A group as the coordinator created it: rank r is {@code devices.get(r)}, with the pool of that device;
 * {@code sequencer} is its data plane (where callers enqueue its collectives).
 */
public record GroupInfo(int id, List<Device> devices, List<MemoryPool> pools, Topology topology, BackendChoice choice,
                        GroupSequencer sequencer) {
    public GroupInfo {
        devices = List.copyOf(devices);
        pools = List.copyOf(pools);
    }
}
