package io.cohort.nn.cuda;

import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaStream;
import io.cohort.device.DeviceBuffer;

/**
 * A scratch buffer on one stream that grows to the largest size asked of it (4 KiB at least). Growing waits
 * for the stream before it frees the old buffer, since enqueued kernels may still read it. Optionally zeroed
 * on the stream when allocated (ticket counters that every launch leaves zero).
 */
final class DeviceScratch implements AutoCloseable {
    private final CudaDevice device;
    private final CudaStream stream;
    private final boolean zeroed;
    private DeviceBuffer buffer;

    DeviceScratch(CudaDevice device, CudaStream stream, boolean zeroed) {
        this.device = device;
        this.stream = stream;
        this.zeroed = zeroed;
    }

    /** The buffer, of at least {@code bytes}. */
    DeviceBuffer atLeast(long bytes) {
        if (buffer != null && buffer.byteSize() >= bytes) {
            return buffer;
        }
        if (buffer != null) {
            stream.synchronize();
            device.free(buffer);
            buffer = null;
        }
        buffer = device.allocate(Math.max(bytes, 4096));
        if (zeroed) {
            stream.zero(buffer, 0, buffer.byteSize());   // stream-ordered before the kernels that use it
        }
        return buffer;
    }

    @Override
    public void close() {
        if (buffer != null) {
            device.free(buffer);
            buffer = null;
        }
    }
}
