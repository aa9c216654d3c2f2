package io.cohort.nn;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A host device with just memory (what the model tests need), until the runtime's host device is merged. */
public final class TestHostDevice implements Device {
    private final int ordinal;

    public TestHostDevice(int ordinal) {
        this.ordinal = ordinal;
    }

    private record Buffer(Device device, MemorySegment segment) implements DeviceBuffer {
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
        public DeviceBuffer slice(long offset, long bytes) {
            return new Buffer(device, segment.asSlice(offset, bytes));
        }
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
        return "host:" + ordinal;
    }

    @Override
    public long totalMemory() {
        return Runtime.getRuntime().maxMemory();
    }

    @Override
    public long freeMemory() {
        return Runtime.getRuntime().freeMemory();
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
        return new Buffer(this, Arena.ofAuto().allocate(bytes, 256));
    }

    @Override
    public void free(DeviceBuffer buffer) {
        // Arena.ofAuto: the GC frees it
    }

    @Override
    public DeviceBuffer allocatePinnedHost(long bytes) {
        return allocate(bytes);
    }

    @Override
    public DeviceStream createStream() {
        throw new UnsupportedOperationException("test device has no streams");
    }

    @Override
    public DeviceEvent createEvent() {
        throw new UnsupportedOperationException("test device has no events");
    }

    @Override
    public boolean canAccessPeer(Device peer) {
        return peer.kind() == DeviceKind.HOST;
    }

    @Override
    public void enablePeerAccess(Device peer) {
    }

    @Override
    public void close() {
    }
}
