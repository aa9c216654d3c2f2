package io.cohort.testing;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import io.cohort.memory.MemoryPool;
import io.cohort.memory.PoolStats;
import java.lang.foreign.Arena;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one fake device of the tests: memory is plain off-heap memory, stream operations do nothing, and events
 * complete at once, unless {@link #stall} holds them back. Counts streams created and closed, so tests can see
 * the runtime replace and release them. Subclasses (the CUDA look-alike of the NCCL tests) choose the kind,
 * whether device memory is host-accessible, peer access, and their own streams.
 */
public class FakeDevice implements Device {
    private final int ordinal;
    private final DeviceKind kind;
    private final String name;
    private final boolean memoryHostAccessible;
    private final Arena arena = Arena.ofShared();
    public final AtomicInteger streamsCreated = new AtomicInteger();
    public final AtomicInteger streamsClosed = new AtomicInteger();
    public volatile boolean stall;
    public volatile boolean failNextStreamCreation;
    /** What {@link #sharedByRanks} was told (0: never), and how many streams had been made by then. */
    public volatile int sharedByRanks;
    public volatile int streamsBeforeShared = -1;

    public FakeDevice(int ordinal) {
        this(ordinal, DeviceKind.HOST, "fake:" + ordinal, true);
    }

    protected FakeDevice(int ordinal, DeviceKind kind, String name, boolean memoryHostAccessible) {
        this.ordinal = ordinal;
        this.kind = kind;
        this.name = name;
        this.memoryHostAccessible = memoryHostAccessible;
    }

    @Override
    public DeviceKind kind() {
        return kind;
    }

    @Override
    public int ordinal() {
        return ordinal;
    }

    @Override
    public String name() {
        return name;
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
    public FakeBuffer allocate(long bytes) {
        return new FakeBuffer(this, arena.allocate(Math.max(bytes, 1), 256), memoryHostAccessible);
    }

    @Override
    public void free(DeviceBuffer buffer) {
    }

    @Override
    public FakeBuffer allocatePinnedHost(long bytes) {
        return new FakeBuffer(this, arena.allocate(Math.max(bytes, 1), 256), true);
    }

    @Override
    public final DeviceStream createStream() {
        if (failNextStreamCreation) {
            failNextStreamCreation = false;
            throw new io.cohort.device.DeviceException(name() + ": injected stream creation failure");
        }
        streamsCreated.incrementAndGet();
        return newStream();
    }

    @Override
    public void sharedByRanks(int ranks) {
        sharedByRanks = ranks;
        streamsBeforeShared = streamsCreated.get();
    }

    /** The stream {@link #createStream} hands out: by default one that runs nothing. */
    protected DeviceStream newStream() {
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

    private final class Stream extends NoOpStream {
        Stream() {
            super(FakeDevice.this);
        }

        @Override
        public void record(DeviceEvent event) {
            ((Event) event).complete = !stall;
        }

        @Override
        public void close() {
            streamsClosed.incrementAndGet();
        }
    }
}
