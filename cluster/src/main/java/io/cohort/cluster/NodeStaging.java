package io.cohort.cluster;

import io.cohort.device.Device;
import io.cohort.device.DeviceStream;
import io.cohort.device.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Host memory a node leader hands to the transport. A tensor the host can address is used in place; any other
 * (GPU memory) is copied through one of two host regions with a stream of its device, synchronously: the
 * caller runs between local collectives that have completed, so no device work races with these copies.
 * One thread (the group's worker).
 */
final class NodeStaging implements AutoCloseable {

    private final Map<Device, DeviceStream> streams = new IdentityHashMap<>();
    private final Arena[] arenas = new Arena[2];
    private final MemorySegment[] regions = {MemorySegment.NULL, MemorySegment.NULL};

    /** Host memory holding {@code bytes} of {@code t} from {@code offset}: the tensor itself, or a copy in region r. */
    MemorySegment load(Tensor t, long offset, long bytes, int r) {
        if (t.buffer().isHostAccessible()) {
            return t.buffer().segment().asSlice(offset, bytes);
        }
        MemorySegment dst = region(r, bytes);
        copyToHost(t, offset, dst);
        return dst;
    }

    /** Host memory that will become {@code bytes} of {@code t} from {@code offset} once {@link #store}d. */
    MemorySegment target(Tensor t, long offset, long bytes, int r) {
        return t.buffer().isHostAccessible() ? t.buffer().segment().asSlice(offset, bytes) : region(r, bytes);
    }

    /** Writes {@code host} (from {@link #load} or {@link #target}) back into {@code t} at {@code offset}. */
    void store(MemorySegment host, Tensor t, long offset) {
        if (!t.buffer().isHostAccessible()) {
            copyFromHost(host, t, offset);
        }
    }

    void copyToHost(Tensor t, long offset, MemorySegment dst) {
        if (t.buffer().isHostAccessible()) {
            MemorySegment.copy(t.buffer().segment(), offset, dst, 0, dst.byteSize());
            return;
        }
        DeviceStream s = stream(t.device());
        s.copyToHost(t.buffer(), offset, dst);
        s.synchronize();
    }

    void copyFromHost(MemorySegment src, Tensor t, long offset) {
        if (t.buffer().isHostAccessible()) {
            MemorySegment.copy(src, 0, t.buffer().segment(), offset, src.byteSize());
            return;
        }
        DeviceStream s = stream(t.device());
        s.copyFromHost(src, t.buffer(), offset);
        s.synchronize();
    }

    /** Region r (0 or 1) of at least {@code bytes}, grown as needed (contents are not kept). */
    MemorySegment region(int r, long bytes) {
        if (regions[r].byteSize() < bytes) {
            if (arenas[r] != null) {
                arenas[r].close();
            }
            arenas[r] = Arena.ofShared();
            regions[r] = arenas[r].allocate(Math.max(bytes, 64), 64);
        }
        return regions[r].asSlice(0, bytes);
    }

    private DeviceStream stream(Device d) {
        return streams.computeIfAbsent(d, Device::createStream);
    }

    @Override
    public void close() {
        streams.values().forEach(DeviceStream::close);
        streams.clear();
        for (int r = 0; r < 2; r++) {
            if (arenas[r] != null) {
                arenas[r].close();
                arenas[r] = null;
                regions[r] = MemorySegment.NULL;
            }
        }
    }
}
