package io.cohort.cuda.nccl;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.NativeCudaStream;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * CUDA look-alikes for tests without a GPU: "device memory" is host memory (so the fake NCCL can compute on it)
 * that claims not to be host-accessible, and streams log the flag operations they are given into a shared log.
 */
final class FakeCuda {

    private static final AtomicLong STREAM_HANDLES = new AtomicLong(0x5000);

    private FakeCuda() {
    }

    static final class FakeDevice implements Device {
        final int ordinal;
        final DeviceKind kind;
        final List<String> log;
        final Arena arena = Arena.ofShared();
        int pinnedFreed;

        FakeDevice(int ordinal, DeviceKind kind, List<String> log) {
            this.ordinal = ordinal;
            this.kind = kind;
            this.log = log;
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
            return (kind == DeviceKind.CUDA ? "cuda:" : "host:") + ordinal;
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
            return new FakeBuffer(this, arena.allocate(Math.max(bytes, 1), 256), false);
        }

        @Override
        public void free(DeviceBuffer buffer) {
            if (buffer.isHostAccessible()) {
                pinnedFreed++;
            }
        }

        @Override
        public FakeBuffer allocatePinnedHost(long bytes) {
            return new FakeBuffer(this, arena.allocate(bytes, 256), true);
        }

        @Override
        public FakeStream createStream() {
            return new FakeStream(this, log);
        }

        @Override
        public DeviceEvent createEvent() {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean canAccessPeer(Device peer) {
            return false;
        }

        @Override
        public void enablePeerAccess(Device peer) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void close() {
        }
    }

    record FakeBuffer(FakeDevice device, MemorySegment memory, boolean isHostAccessible) implements DeviceBuffer {
        @Override
        public long address() {
            return memory.address();
        }

        @Override
        public long byteSize() {
            return memory.byteSize();
        }

        @Override
        public MemorySegment segment() {
            return memory;
        }

        @Override
        public FakeBuffer slice(long offset, long bytes) {
            return new FakeBuffer(device, memory.asSlice(offset, bytes), isHostAccessible);
        }
    }

    /** A stream that is also a {@link NativeCudaStream}; it runs nothing and logs flag operations. */
    static final class FakeStream implements DeviceStream, NativeCudaStream {
        final FakeDevice device;
        final long handle = STREAM_HANDLES.incrementAndGet();
        final List<String> log;
        int contextMadeCurrent;
        boolean closed;
        int synchronizations;

        FakeStream(FakeDevice device, List<String> log) {
            this.device = device;
            this.log = log;
        }

        @Override
        public long nativeHandle() {
            return handle;
        }

        @Override
        public int deviceOrdinal() {
            return device.ordinal;
        }

        @Override
        public void makeContextCurrent() {
            contextMadeCurrent++;
        }

        @Override
        public Device device() {
            return device;
        }

        @Override
        public void writeValue(DeviceBuffer flags, long offset, long value) {
            log.add("stream " + handle + " write " + (offset == 0 ? "READY" : "DONE") + "=" + value);
            flags.segment().set(ValueLayout.JAVA_LONG, offset, value);
        }

        @Override
        public void waitValue(DeviceBuffer flags, long offset, long atLeast) {
            log.add("stream " + handle + " wait " + (offset == 0 ? "READY" : "DONE") + ">=" + atLeast);
        }

        @Override
        public void synchronize() {
            synchronizations++;
        }

        @Override
        public void close() {
            closed = true;
        }

        @Override
        public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void copyFromHost(MemorySegment src, DeviceBuffer dst, long dstOffset) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void reduce(DType type, ReduceOp op, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                           DeviceBuffer dst, long dstOffset, long count) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void scale(DType type, DeviceBuffer buf, long offset, long count, double factor) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void zero(DeviceBuffer buf, long offset, long bytes) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void record(DeviceEvent event) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void waitFor(DeviceEvent event) {
            throw new UnsupportedOperationException();
        }
    }

    /** A host stream: what the NCCL backend must refuse. */
    static final class HostOnlyStream implements DeviceStream {
        final FakeDevice device;

        HostOnlyStream(FakeDevice device) {
            this.device = device;
        }

        @Override
        public Device device() {
            return device;
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
        }

        @Override
        public void waitFor(DeviceEvent event) {
        }

        @Override
        public void synchronize() {
        }

        @Override
        public void close() {
        }
    }
}
