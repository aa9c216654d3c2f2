package io.cohort.device;

import java.lang.foreign.MemorySegment;

/**
 * A range of memory owned by a device (or pinned host memory usable by devices, for staging).
 * A buffer is a view: {@link #slice} makes no allocation on the device.
 */
public interface DeviceBuffer {

    /** Device that owns the memory; for pinned host staging, the device it was allocated through. */
    Device device();

    /** Address as the owning device sees it (a CUDA device pointer, or a native address for host memory). */
    long address();

    /** Length in bytes. */
    long byteSize();

    /** Whether the CPU can read this memory directly (host devices and pinned staging). */
    boolean isHostAccessible();

    /** The memory as a segment, when {@link #isHostAccessible()}; otherwise throws. */
    MemorySegment segment();

    /** A view of {@code bytes} starting at {@code offset}. */
    DeviceBuffer slice(long offset, long bytes);

    /** Whether this buffer was given back to its pool (a pool block after release); plain memory never is. */
    default boolean isReleased() {
        return false;
    }
}
