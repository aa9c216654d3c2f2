package io.cohort.testing;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import java.lang.foreign.MemorySegment;

/** Memory of a {@link FakeDevice}: plain off-heap memory that says whether the host may touch it. */
public record FakeBuffer(Device device, MemorySegment memory, boolean isHostAccessible) implements DeviceBuffer {
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
