package io.cohort.testing;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import io.cohort.memory.MemoryPool;
import io.cohort.memory.PoolStats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test double for the coordinator protocol: memory is plain off-heap memory, stream operations do
 * nothing, and events complete at once, unless {@link #stall} holds them back. Counts streams created and
 * closed, so tests can see the runtime replace and release them.
 */
public final class FakeDevice implements Device {
    private final int ordinal;
    private final Arena arena = Arena.ofShared();
    public final AtomicInteger streamsCreated = new AtomicInteger();
    public final AtomicInteger streamsClosed = new AtomicInteger();
    public volatile boolean stall;
    public volatile boolean failNextStreamCreation;


    public FakeDevice(int ordinal) {
        this.ordinal = ordinal;
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.HOST;
    }

    @Override
    public int ordinal() {
        return ordinal;
    }

    @Override
    public String name() {
        return "fake:" + ordinal;
    }

    @Override
    public long totalMemory() {
        return 1L << 30;
    }

    @Override
    public long freeMemory() {
        return 1L << 30;
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
        return new Buffer(arena.allocate(bytes, 256));
    }

    @Override
    public void free(DeviceBuffer buffer) {
    }

    @Override
    public DeviceBuffer allocatePinnedHost(long bytes) {
        return allocate(bytes);
    }

    @Override
    public DeviceStream createStream() {
        if (failNextStreamCreation) {
            failNextStreamCreation = false;
            throw new io.cohort.device.DeviceException(name() + ": injected stream creation failure");
        }
        streamsCreated.incrementAndGet();
        return new Stream();
    }

    @Override
    public DeviceEvent createEvent() {
        return new Event();
    }

    @Override
    public boolean canAccessPeer(Device peer) {
        return true;
    }

    @Override
    public void enablePeerAccess(Device peer) {
    }

    @Override
    public void close() {
        arena.close();
    }

    /** A pool that hands out fresh memory of the device. */
    public MemoryPool pool() {
        FakeDevice device = this;
        return new MemoryPool() {
            @Override
            public Device device() {
                return device;
            }

            @Override
            public long capacity() {
                return 1L << 30;
            }

            @Override
            public DeviceBuffer allocate(long bytes) {
                return device.allocate(bytes);
            }

            @Override
            public void release(DeviceBuffer buffer) {
            }

            @Override
            public PoolStats stats() {
                return new PoolStats(name(), capacity(), 0, 0, 0, 0, 0);
            }

            @Override
            public void close() {
            }
        };
    }

    private final class Buffer implements DeviceBuffer {
        private final MemorySegment segment;

        Buffer(MemorySegment segment) {
            this.segment = segment;
        }

        @Override
        public Device device() {
            return FakeDevice.this;
        }

        @Override
        public long address() {
            return segment.address();
        }

        @Override
        public long byteSize() {
            return segment.byteSize();
        }

        @Override
        public boolean isHostAccessible() {
            return true;
        }

        @Override
        public MemorySegment segment() {
            return segment;
        }

        @Override
        public DeviceBuffer slice(long offset, long bytes) {
            return new Buffer(segment.asSlice(offset, bytes));
        }
    }

    private final class Event implements DeviceEvent {
        private volatile boolean complete = true;

        @Override
        public boolean isComplete() {
            return complete;
        }

        @Override
        public void synchronize() {
        }

        @Override
        public void close() {
        }
    }

    private final class Stream implements DeviceStream {
        @Override
        public Device device() {
            return FakeDevice.this;
        }

        @Override
        public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
        }

        @Override
        public void copyFromHost(MemorySegment src, DeviceBuffer dst, long dstOffset) {
        }

        @Override
        public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        }

        @Override
        public void reduce(DType type, ReduceOp op, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                           DeviceBuffer dst, long dstOffset, long count) {
        }

        @Override
        public void scale(DType type, DeviceBuffer buf, long offset, long count, double factor) {
        }

        @Override
        public void zero(DeviceBuffer buf, long offset, long bytes) {
        }

        @Override
        public void writeValue(DeviceBuffer flags, long offset, long value) {
        }

        @Override
        public void waitValue(DeviceBuffer flags, long offset, long atLeast) {
        }

        @Override
        public void record(DeviceEvent event) {
            ((Event) event).complete = !stall;
        }

        @Override
        public void waitFor(DeviceEvent event) {
        }

        @Override
        public void synchronize() {
        }

        @Override
        public void close() {
            streamsClosed.incrementAndGet();
        }
    }
}
