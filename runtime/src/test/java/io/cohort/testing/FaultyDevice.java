package io.cohort.testing;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real device with faults on demand, for the runtime's failure paths: {@link #failNextOp()} makes the next
 * copy or reduce enqueued on any of its streams throw; {@link #stallNextOp()} makes its streams wait, before
 * that op, on a flag nobody writes until {@link #release()}. Counts host synchronizes of its streams.
 */
public final class FaultyDevice implements Device {
    private final Device delegate;
    private final DeviceBuffer neverWritten;
    private volatile boolean failNext;
    private volatile boolean stallNext;
    private final AtomicLong streamSynchronizes = new AtomicLong();

    public FaultyDevice(Device delegate) {
        this.delegate = delegate;
        this.neverWritten = delegate.allocatePinnedHost(256);
    }

    public void failNextOp() {
        failNext = true;
    }

    public void stallNextOp() {
        stallNext = true;
    }

    /** Host {@link DeviceStream#synchronize} calls on this device's streams so far (tests of host waits). */
    public long streamSynchronizes() {
        return streamSynchronizes.get();
    }

    /** Lets stalled streams go on. */
    public void release() {
        neverWritten.segment().set(ValueLayout.JAVA_LONG, 0, Long.MAX_VALUE);
    }

    private void beforeOp(DeviceStream s) {
        if (failNext) {
            failNext = false;
            throw new DeviceException(name() + ": injected fault");
        }
        if (stallNext) {
            stallNext = false;
            s.waitValue(neverWritten, 0, 1);
        }
    }

    @Override
    public DeviceKind kind() {
        return delegate.kind();
    }

    @Override
    public int ordinal() {
        return delegate.ordinal();
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public long totalMemory() {
        return delegate.totalMemory();
    }

    @Override
    public long freeMemory() {
        return delegate.freeMemory();
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
        return delegate.allocate(bytes);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        delegate.free(buffer);
    }

    @Override
    public DeviceBuffer allocatePinnedHost(long bytes) {
        return delegate.allocatePinnedHost(bytes);
    }

    @Override
    public DeviceStream createStream() {
        return new Stream(delegate.createStream());
    }

    @Override
    public void sharedByRanks(int ranks) {
        delegate.sharedByRanks(ranks);
    }

    @Override
    public DeviceEvent createEvent() {
        return delegate.createEvent();
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
        release();
        delegate.close();
    }

    private final class Stream implements DeviceStream {
        private final DeviceStream s;

        Stream(DeviceStream s) {
            this.s = s;
        }

        @Override
        public Device device() {
            return FaultyDevice.this;
        }

        @Override
        public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
            beforeOp(s);
            s.copy(src, srcOffset, dst, dstOffset, bytes);
        }

        @Override
        public void copyFromHost(MemorySegment src, DeviceBuffer dst, long dstOffset) {
            s.copyFromHost(src, dst, dstOffset);
        }

        @Override
        public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst) {
            s.copyToHost(src, srcOffset, dst);
        }

        @Override
        public void reduce(DType type, ReduceOp op, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                           DeviceBuffer dst, long dstOffset, long count) {
            beforeOp(s);
            s.reduce(type, op, a, aOffset, b, bOffset, dst, dstOffset, count);
        }

        @Override
        public void scale(DType type, DeviceBuffer buf, long offset, long count, double factor) {
            s.scale(type, buf, offset, count, factor);
        }

        @Override
        public void zero(DeviceBuffer buf, long offset, long bytes) {
            s.zero(buf, offset, bytes);
        }

        @Override
        public void writeValue(DeviceBuffer flags, long offset, long value) {
            s.writeValue(flags, offset, value);
        }

        @Override
        public void waitValue(DeviceBuffer flags, long offset, long atLeast) {
            s.waitValue(flags, offset, atLeast);
        }

        @Override
        public void record(DeviceEvent event) {
            s.record(event);
        }

        @Override
        public void waitFor(DeviceEvent event) {
            s.waitFor(event);
        }

        @Override
        public void synchronize() {
            streamSynchronizes.incrementAndGet();
            s.synchronize();
        }

        @Override
        public DeviceException failure() {
            return s.failure();
        }

        @Override
        public void close() {
            s.close();
        }
    }
}
