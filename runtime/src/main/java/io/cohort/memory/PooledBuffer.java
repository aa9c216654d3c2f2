package io.cohort.memory;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import java.lang.foreign.MemorySegment;

/**
 * A block carved out of a {@link CarvingMemoryPool}. It behaves as the underlying device memory (slices
 * of it are plain device buffers); only the block itself can be released to its pool.
 */
final class PooledBuffer implements DeviceBuffer {

    private final CarvingMemoryPool pool;
    private final DeviceBuffer memory;
    private final long poolOffset;
    private final long blockBytes;
    private volatile boolean released;

    PooledBuffer(CarvingMemoryPool pool, DeviceBuffer memory, long poolOffset, long blockBytes) {
        this.pool = pool;
        this.memory = memory;
        this.poolOffset = poolOffset;
        this.blockBytes = blockBytes;
    }

    void markReleased() {
        released = true;
    }

    @Override
    public boolean isReleased() {
        return released;
    }

    CarvingMemoryPool pool() {
        return pool;
    }

    long poolOffset() {
        return poolOffset;
    }

    /** Bytes taken from the pool (the request rounded up to the alignment). */
    long blockBytes() {
        return blockBytes;
    }

    @Override
    public Device device() {
        return memory.device();
    }

    @Override
    public long address() {
        return memory.address();
    }

    @Override
    public long byteSize() {
        return memory.byteSize();
    }

    @Override
    public boolean isHostAccessible() {
        return memory.isHostAccessible();
    }

    @Override
    public MemorySegment segment() {
        return memory.segment();
    }

    @Override
    public DeviceBuffer slice(long offset, long bytes) {
        return memory.slice(offset, bytes);
    }

    @Override
    public String toString() {
        return "pool block of " + memory.device().name() + " (+" + poolOffset + ", " + memory.byteSize() + " bytes)";
    }
}
