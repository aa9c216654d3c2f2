package io.cohort.bench;

import io.cohort.device.Device;
import io.cohort.device.DeviceStream;
import io.cohort.device.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Reads and writes tensor contents from the host: directly for host-accessible memory, otherwise through a
 * stream of the tensor's device (one per device, made on first use). Only for test data, off the hot path.
 */
public final class TensorIo implements AutoCloseable {
    private final Arena arena = Arena.ofConfined();
    private final Map<Device, DeviceStream> streams = new IdentityHashMap<>();

    /** The first {@code bytes} of the tensor, as host memory valid until this closes (or a view, for host memory). */
    public MemorySegment read(Tensor t, long bytes) {
        if (t.buffer().isHostAccessible()) {
            return t.buffer().segment().asSlice(0, bytes);
        }
        MemorySegment host = arena.allocate(bytes, 256);
        DeviceStream s = stream(t.device());
        s.copyToHost(t.buffer(), 0, host);
        s.synchronize();
        return host;
    }

    /** Writes {@code data} to the start of the tensor. */
    public void write(Tensor t, MemorySegment data) {
        if (t.buffer().isHostAccessible()) {
            t.buffer().segment().asSlice(0, data.byteSize()).copyFrom(data);
            return;
        }
        DeviceStream s = stream(t.device());
        s.copyFromHost(data, t.buffer(), 0);
        s.synchronize();
    }

    /** Scratch host memory valid until this closes. */
    public MemorySegment scratch(long bytes) {
        return arena.allocate(Math.max(1, bytes), 256);
    }

    private DeviceStream stream(Device d) {
        return streams.computeIfAbsent(d, Device::createStream);
    }

    @Override
    public void close() {
        streams.values().forEach(DeviceStream::close);
        streams.clear();
        arena.close();
    }
}
