package io.cohort.cuda;

import io.cohort.device.DeviceBuffer;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Device memory or pinned, device-mapped host memory of a {@link CudaDevice}. {@link #address()} is the
 * address kernels and copies use (UVA: valid on every device of the process; for pinned host memory, its
 * device mapping). Slices are views sharing the root allocation.
 */
public final class CudaBuffer implements DeviceBuffer {

    private final CudaDevice device;
    private final long address;
    private final long byteSize;
    private final MemorySegment host;   // pinned host memory, else null
    private final CudaBuffer root;      // null for an allocation itself
    volatile boolean freed;

    CudaBuffer(CudaDevice device, long address, long byteSize, MemorySegment host, CudaBuffer root) {
        this.device = device;
        this.address = address;
        this.byteSize = byteSize;
        this.host = host;
        this.root = root;
    }

    @Override
    public CudaDevice device() {
        return device;
    }

    @Override
    public long address() {
        return address;
    }

    @Override
    public long byteSize() {
        return byteSize;
    }

    @Override
    public boolean isHostAccessible() {
        return host != null;
    }

    /** Pinned host memory (staging, flags) rather than device memory. */
    public boolean isPinnedHost() {
        return host != null;
    }

    @Override
    public MemorySegment segment() {
        if (host == null) {
            throw new UnsupportedOperationException("device memory of " + device.name() + " is not host-accessible");
        }
        return host;
    }

    @Override
    public CudaBuffer slice(long offset, long bytes) {
        Objects.checkFromIndexSize(offset, bytes, byteSize);
        return new CudaBuffer(device, address + offset, bytes, host == null ? null : host.asSlice(offset, bytes),
                root == null ? this : root);
    }

    boolean isAllocation() {
        return root == null;
    }

    boolean isFreed() {
        return (root == null ? this : root).freed;
    }

    @Override
    public String toString() {
        return (host == null ? "cuda" : "pinned") + "[" + device.name() + " 0x" + Long.toHexString(address) + ", "
                + byteSize + " B]";
    }
}
