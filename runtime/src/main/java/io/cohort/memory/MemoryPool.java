package io.cohort.memory;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;

/**
 * Device memory of one device, taken once from the device and carved into buffers (scratch and staging of
 * collectives, user tensors). Default capacity: {@link #defaultCapacity}. Exhaustion throws
 * {@link PoolExhaustedException}; a buffer is never handed out twice.
 */
public interface MemoryPool extends AutoCloseable {

    long MIN_DEFAULT = 32L << 20;
    long MAX_DEFAULT = 512L << 20;

    /** clamp(10% of free memory, 32 MiB, 512 MiB). */
    static long defaultCapacity(long freeBytes) {
        return Math.clamp(freeBytes / 10, MIN_DEFAULT, MAX_DEFAULT);
    }

    Device device();

    long capacity();

    /** A buffer of at least {@code bytes} (256-byte aligned). */
    DeviceBuffer allocate(long bytes);

    /** Returns a buffer from {@link #allocate}; releasing one twice, or a foreign one, throws. */
    void release(DeviceBuffer buffer);

    PoolStats stats();

    @Override
    void close();
}
