package io.cohort.memory;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A {@link MemoryPool} that takes one allocation from its device up front and carves it into 256-byte
 * aligned blocks: first fit over a free list ordered by offset, with neighbours coalesced on release.
 * Allocation then costs no device call (a CUDA malloc synchronises the device; this does not), and the
 * pool's footprint is fixed and visible. Thread-safe (one lock; allocations are rare: plans bind once).
 */
public final class CarvingMemoryPool implements MemoryPool {

    /** Block alignment and granularity. */
    public static final long ALIGNMENT = 256;

    /** Where the pool's single allocation comes from. */
    public enum Source {
        /** {@link Device#allocate}: device memory (scratch). */
        DEVICE,
        /** {@link Device#allocatePinnedHost}: pinned host memory every device can reach (staging). */
        PINNED_HOST
    }

    private final Device device;
    private final Source source;
    private final long capacity;
    private final DeviceBuffer memory;
    private final TreeMap<Long, Long> free = new TreeMap<>();        // offset -> bytes
    private final Map<Long, PooledBuffer> live = new HashMap<>();    // offset -> block
    private long inUse;
    private long highWater;
    private long allocations;
    private long releases;
    private long failures;
    private boolean closed;

    private CarvingMemoryPool(Device device, long capacity, Source source) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("pool capacity must be positive, got " + capacity);
        }
        this.device = device;
        this.source = source;
        this.capacity = alignUp(capacity);
        this.memory = source == Source.DEVICE ? device.allocate(this.capacity) : device.allocatePinnedHost(this.capacity);
        free.put(0L, this.capacity);
    }

    /** A device-memory pool of {@link MemoryPool#defaultCapacity} of the device's free memory. */
    public static CarvingMemoryPool create(Device device) {
        return new CarvingMemoryPool(device, MemoryPool.defaultCapacity(device.freeMemory()), Source.DEVICE);
    }

    /** A device-memory pool of {@code capacity} bytes (rounded up to {@link #ALIGNMENT}). */
    public static CarvingMemoryPool create(Device device, long capacity) {
        return new CarvingMemoryPool(device, capacity, Source.DEVICE);
    }

    /** A pool of {@code capacity} bytes from {@code source}. */
    public static CarvingMemoryPool create(Device device, long capacity, Source source) {
        return new CarvingMemoryPool(device, capacity, source);
    }

    @Override
    public Device device() {
        return device;
    }

    public Source source() {
        return source;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public synchronized DeviceBuffer allocate(long bytes) {
        if (closed) {
            throw new IllegalStateException("pool of " + device.name() + " is closed");
        }
        if (bytes < 0) {
            throw new IllegalArgumentException("cannot allocate a negative size (" + bytes + " bytes) from the pool of " + device.name());
        }
        long need = Math.max(ALIGNMENT, alignUp(bytes));
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            long size = e.getValue();
            if (size >= need) {
                long offset = e.getKey();
                free.remove(offset);
                if (size > need) {
                    free.put(offset + need, size - need);
                }
                PooledBuffer block = new PooledBuffer(this, memory.slice(offset, bytes), offset, need);
                live.put(offset, block);
                inUse += need;
                highWater = Math.max(highWater, inUse);
                allocations++;
                return block;
            }
        }
        failures++;
        throw new PoolExhaustedException(String.format(
                "%s pool of %s exhausted: asked %s, largest free block %s, %s of %s in use "
                        + "(raise %s)",
                source == Source.DEVICE ? "device" : "pinned host", device.name(), bytes(bytes),
                bytes(largestFree()), bytes(inUse), bytes(capacity),
                source == Source.DEVICE ? "cohort.pool.capacity" : "cohort.pool.staging-capacity"));
    }

    @Override
    public synchronized void release(DeviceBuffer buffer) {
        if (!(buffer instanceof PooledBuffer block) || block.pool() != this) {
            throw new IllegalArgumentException("cannot release " + buffer + " to the pool of " + device.name()
                    + ": it was not allocated from this pool");
        }
        if (live.get(block.poolOffset()) != block) {
            throw new IllegalArgumentException("cannot release " + buffer + " to the pool of " + device.name()
                    + ": already released");
        }
        live.remove(block.poolOffset());
        block.markReleased();
        inUse -= block.blockBytes();
        releases++;
        long offset = block.poolOffset();
        long size = block.blockBytes();
        Map.Entry<Long, Long> before = free.floorEntry(offset);
        if (before != null && before.getKey() + before.getValue() == offset) {
            offset = before.getKey();
            size += before.getValue();
            free.remove(before.getKey());
        }
        Long afterSize = free.remove(offset + size);
        if (afterSize != null) {
            size += afterSize;
        }
        free.put(offset, size);
    }

    /** Size of the largest free block: the biggest allocation that can succeed now. */
    public synchronized long largestFree() {
        long max = 0;
        for (long size : free.values()) {
            max = Math.max(max, size);
        }
        return max;
    }

    /** Number of free blocks (1 when nothing is fragmented). */
    public synchronized int freeBlocks() {
        return free.size();
    }

    @Override
    public synchronized PoolStats stats() {
        return new PoolStats(device.name(), capacity, inUse, highWater, allocations, releases, failures);
    }

    /** Returns the pool's memory to the device; blocks still handed out become invalid. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        live.clear();
        free.clear();
        device.free(memory);
    }

    private static long alignUp(long bytes) {
        return (bytes + ALIGNMENT - 1) & -ALIGNMENT;
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format("%d B (%.1f %s)", n, v, units[u]);
    }

    @Override
    public String toString() {
        return "CarvingMemoryPool[" + device.name() + ", " + bytes(capacity) + "]";
    }
}
