package io.cohort.device.host;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real CPU device, the way Gloo is a CPU backend: memory is off-heap ({@link Arena}, 256-byte aligned),
 * each {@link HostStream} is one dedicated thread, and reductions run on the Vector API. Host devices of
 * one process share memory, so every pair has "P2P" ({@link #canAccessPeer}) and pinned host memory is
 * plain host memory.
 *
 * <p>{@link #totalMemory()} is a budget, not a reservation: allocations beyond it fail with a
 * {@link DeviceException}, as a GPU's would. Memory reads as zero and is committed by the OS page by page
 * when first touched ({@link LazyMemory}), so a large pool costs nothing until it is used. A freed buffer
 * cannot be touched any more: access fails with an exception, never with a crash.
 */
public final class HostDevice implements Device {

    /** 256 bytes: the alignment CUDA gives device allocations, kept so plans behave alike. */
    public static final long ALIGNMENT = 256;

    /**
     * How a host device is set up.
     *
     * @param totalMemory memory budget in bytes (device and pinned allocations together)
     * @param waitTimeout how long a stream waits for a flag or an event before failing
     * @param waitPolicy  how streams and their callers wait (spin, yield, park)
     */
    public record Options(long totalMemory, Duration waitTimeout, HostWaitPolicy waitPolicy) {
        public Options {
            Objects.requireNonNull(waitPolicy, "wait policy");
            if (totalMemory <= 0) {
                throw new IllegalArgumentException("host device memory must be positive, got " + totalMemory);
            }
            if (waitTimeout.isNegative() || waitTimeout.isZero()) {
                throw new IllegalArgumentException("wait timeout must be positive, got " + waitTimeout);
            }
        }

        /** Options with the default {@link HostWaitPolicy}. */
        public Options(long totalMemory, Duration waitTimeout) {
            this(totalMemory, waitTimeout, HostWaitPolicy.defaults());
        }

        /** A quarter of physical memory (at least 256 MiB), a 30 s wait timeout, the default wait policy. */
        public static Options defaults() {
            return new Options(defaultTotalMemory(), Duration.ofSeconds(30));
        }

        /**
         * From the {@code cohort} configuration section: {@code host.memory} (auto or a size) and
         * {@code collective.timeout} as the wait timeout, {@code host.wait} as the wait policy.
         */
        public static Options from(Config cohort) {
            Config c = cohort.withFallback(ConfigFactory.defaultReference().getConfig("cohort"));
            long memory = c.getString("host.memory").trim().equalsIgnoreCase("auto") ? defaultTotalMemory()
                    : c.getBytes("host.memory");
            return new Options(memory, c.getDuration("collective.timeout"), HostWaitPolicy.from(c.getConfig("host.wait")));
        }

        public Options withTotalMemory(long bytes) {
            return new Options(bytes, waitTimeout, waitPolicy);
        }

        public Options withWaitTimeout(Duration timeout) {
            return new Options(totalMemory, timeout, waitPolicy);
        }

        public Options withWaitPolicy(HostWaitPolicy policy) {
            return new Options(totalMemory, waitTimeout, policy);
        }
    }

    private final int ordinal;
    private final String name;
    private final Options options;
    private final AtomicLong used = new AtomicLong();
    private final Map<HostBuffer, Arena> allocations = new ConcurrentHashMap<>();
    private final List<HostStream> streams = new ArrayList<>();
    private final AtomicInteger streamIds = new AtomicInteger();
    private volatile boolean closed;

    private HostDevice(int ordinal, Options options) {
        if (ordinal < 0) {
            throw new IllegalArgumentException("negative host device ordinal " + ordinal);
        }
        this.ordinal = ordinal;
        this.name = "host:" + ordinal;
        this.options = Objects.requireNonNull(options);
    }

    /** Host device {@code ordinal} with {@link Options#defaults()}. */
    public static HostDevice open(int ordinal) {
        return new HostDevice(ordinal, Options.defaults());
    }

    public static HostDevice open(int ordinal, Options options) {
        return new HostDevice(ordinal, options);
    }

    static long defaultTotalMemory() {
        long physical = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getTotalMemorySize() : 4L << 30;
        return Math.max(physical / 4, 256L << 20);
    }

    public Options options() {
        return options;
    }

    Duration waitTimeout() {
        return options.waitTimeout();
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
        return name;
    }

    @Override
    public long totalMemory() {
        return options.totalMemory();
    }

    @Override
    public long freeMemory() {
        return options.totalMemory() - used.get();
    }

    /** Bytes currently allocated from this device. */
    public long usedMemory() {
        return used.get();
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
        return allocate(bytes, false);
    }

    @Override
    public DeviceBuffer allocatePinnedHost(long bytes) {
        return allocate(bytes, true);
    }

    private HostBuffer allocate(long bytes, boolean pinned) {
        checkOpen();
        if (bytes < 0) {
            throw new DeviceException(name + ": cannot allocate a negative size (" + bytes + " bytes)");
        }
        long after = used.addAndGet(bytes);
        if (after > options.totalMemory()) {
            used.addAndGet(-bytes);
            throw new DeviceException(name + ": out of memory: asked " + bytes + " bytes, " + (after - bytes)
                    + " of " + options.totalMemory() + " bytes in use");
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment = LazyMemory.allocate(bytes, ALIGNMENT, arena);
            HostBuffer buffer = new HostBuffer(this, segment, pinned);
            allocations.put(buffer, arena);
            return buffer;
        } catch (RuntimeException | OutOfMemoryError e) {
            arena.close();
            used.addAndGet(-bytes);
            throw new DeviceException(name + ": allocating " + bytes + " bytes failed: " + e, e);
        }
    }

    @Override
    public void free(DeviceBuffer buffer) {
        if (!(buffer instanceof HostBuffer hb) || hb.device() != this) {
            throw new DeviceException(name + ": cannot free " + buffer + ": not allocated by this device");
        }
        if (!hb.isAllocation()) {
            throw new DeviceException(name + ": cannot free " + buffer + ": a slice, not an allocation");
        }
        Arena arena = allocations.remove(hb);
        if (arena == null) {
            throw new DeviceException(name + ": cannot free " + buffer + ": already freed");
        }
        used.addAndGet(-hb.byteSize());
        arena.close();
    }

    @Override
    public synchronized DeviceStream createStream() {
        checkOpen();
        HostStream stream = new HostStream(this, streamIds.getAndIncrement());
        streams.add(stream);
        return stream;
    }

    @Override
    public DeviceEvent createEvent() {
        checkOpen();
        return new HostEvent(this);
    }

    /** True for every host device of this process: they share one address space. */
    @Override
    public boolean canAccessPeer(Device peer) {
        return peer.kind() == DeviceKind.HOST;
    }

    @Override
    public void enablePeerAccess(Device peer) {
        if (!canAccessPeer(peer)) {
            throw new DeviceException(name + " cannot access " + peer.name() + ": not a host device");
        }
    }

    /** Closes this device's streams (finishing their queued work), then frees all its memory. */
    @Override
    public void close() {
        List<HostStream> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = List.copyOf(streams);
            streams.clear();
        }
        toClose.forEach(HostStream::close);
        for (HostBuffer b : List.copyOf(allocations.keySet())) {
            Arena arena = allocations.remove(b);
            if (arena != null) {
                used.addAndGet(-b.byteSize());
                arena.close();
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new DeviceException(name + " is closed");
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
