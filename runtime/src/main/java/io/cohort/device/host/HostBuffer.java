package io.cohort.device.host;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Host memory handed out by a {@link HostDevice}: a view of an off-heap segment. Slices share the
 * allocation; only the allocation itself ({@link #isAllocation()}) can be freed.
 */
public final class HostBuffer implements DeviceBuffer {

    private final HostDevice device;
    private final MemorySegment segment;
    private final HostBuffer allocation;
    private final boolean pinned;
    private volatile String label;

    HostBuffer(HostDevice device, MemorySegment segment, boolean pinned) {
        this.device = device;
        this.segment = segment;
        this.allocation = this;
        this.pinned = pinned;
    }

    private HostBuffer(HostBuffer parent, MemorySegment segment) {
        this.device = parent.device;
        this.segment = segment;
        this.allocation = parent.allocation;
        this.pinned = parent.pinned;
    }

    @Override
    public Device device() {
        return device;
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
        Objects.checkFromIndexSize(offset, bytes, segment.byteSize());
        return new HostBuffer(this, segment.asSlice(offset, bytes));
    }

    /** Whether this is a whole allocation (freeable) rather than a slice of one. */
    public boolean isAllocation() {
        return allocation == this;
    }

    /** Whether this came from {@link HostDevice#allocatePinnedHost} (staging, flags). */
    public boolean isPinned() {
        return pinned;
    }

    HostBuffer allocation() {
        return allocation;
    }

    /**
     * Names this buffer's allocation in error messages (e.g. "flags of rank 2 for RING ALL_REDUCE"), so that
     * a timed-out {@code waitValue} says which flag it waited for.
     */
    public void label(String label) {
        allocation.label = label;
    }

    @Override
    public String toString() {
        String name = allocation.label;
        String what = name != null ? name : (pinned ? "pinned host buffer" : "buffer");
        return what + " of " + device.name() + " (" + segment.byteSize() + " bytes at 0x"
                + Long.toHexString(segment.address()) + ")";
    }
}
