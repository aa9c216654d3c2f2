package io.cohort.backend;

import io.cohort.device.Device;
import io.cohort.device.DeviceStream;
import io.cohort.memory.MemoryPool;

/** What one rank of a group brings: its device, the stream collectives run on, its pool. */
public record RankContext(int rank, Device device, DeviceStream stream, MemoryPool pool) {
}
