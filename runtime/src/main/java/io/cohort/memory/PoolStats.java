package io.cohort.memory;

/** A snapshot of a pool's use. */
public record PoolStats(String device, long capacity, long inUse, long highWater, long allocations,
                        long releases, long failures) {
}
