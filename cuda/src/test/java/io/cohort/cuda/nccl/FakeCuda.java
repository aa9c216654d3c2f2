package io.cohort.cuda.nccl;

import io.cohort.cuda.NativeCudaStream;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceKind;
import io.cohort.testing.FakeBuffer;
import io.cohort.testing.NoOpStream;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * CUDA look-alikes for tests without a GPU, built on the shared fakes of {@code io.cohort.testing}: "device
 * memory" is host memory (so the fake NCCL can compute on it) that claims not to be host-accessible, and streams
 * log the flag operations they are given into a shared log.
 */
final class FakeCuda {

    private static final AtomicLong STREAM_HANDLES = new AtomicLong(0x5000);

    private FakeCuda() {
    }

    static final class FakeDevice extends io.cohort.testing.FakeDevice {
        final List<String> log;
        int pinnedFreed;

        FakeDevice(int ordinal, DeviceKind kind, List<String> log) {
            super(ordinal, kind, (kind == DeviceKind.CUDA ? "cuda:" : "host:") + ordinal, false);
            this.log = log;
        }

        @Override
        public void free(DeviceBuffer buffer) {
            if (buffer.isHostAccessible()) {
                pinnedFreed++;
            }
        }

        @Override
        protected FakeStream newStream() {
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
    }

    /** A stream that is also a {@link NativeCudaStream}; it runs nothing and logs flag operations. */
    static final class FakeStream extends NoOpStream implements NativeCudaStream {
        final FakeDevice device;
        final long handle = STREAM_HANDLES.incrementAndGet();
        final List<String> log;
        int contextMadeCurrent;
        boolean closed;
        int synchronizations;

        FakeStream(FakeDevice device, List<String> log) {
            super(device);
            this.device = device;
            this.log = log;
        }

        @Override
        public long nativeHandle() {
            return handle;
        }

        @Override
        public int deviceOrdinal() {
            return device.ordinal();
        }

        @Override
        public void makeContextCurrent() {
            contextMadeCurrent++;
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
    }
}
