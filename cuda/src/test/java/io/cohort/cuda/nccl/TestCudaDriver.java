package io.cohort.cuda.nccl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.NativeCudaStream;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Just enough of the CUDA driver API, bound with java.lang.foreign, for the NCCL GPU tests to stand on their own:
 * primary contexts (the ones NCCL uses), device memory, pinned host flags, streams with the 64-bit stream memory
 * operations. Test scaffolding only; Cohort's real device is the cuda module's CudaDevice.
 */
final class TestCudaDriver {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Arena ARENA = Arena.global();
    private final SymbolLookup lib;
    private final MethodHandle cuInit, cuDeviceGetCount, cuDeviceGet, cuDevicePrimaryCtxRetain, cuCtxSetCurrent;
    private final MethodHandle cuMemAlloc, cuMemFree, cuMemHostAlloc, cuMemFreeHost, cuMemcpyHtoD, cuMemcpyDtoH;
    private final MethodHandle cuStreamCreate, cuStreamSynchronize, cuStreamDestroy, cuStreamWriteValue64, cuStreamWaitValue64;

    private TestCudaDriver(SymbolLookup lib) {
        this.lib = lib;
        cuInit = fn("cuInit", JAVA_INT);
        cuDeviceGetCount = fn("cuDeviceGetCount", ADDRESS);
        cuDeviceGet = fn("cuDeviceGet", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRetain = fn("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuCtxSetCurrent = fn("cuCtxSetCurrent", ADDRESS);
        cuMemAlloc = fn("cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = fn("cuMemFree_v2", JAVA_LONG);
        cuMemHostAlloc = fn("cuMemHostAlloc", ADDRESS, JAVA_LONG, JAVA_INT);
        cuMemFreeHost = fn("cuMemFreeHost", ADDRESS);
        cuMemcpyHtoD = fn("cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyDtoH = fn("cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuStreamCreate = fn("cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamSynchronize = fn("cuStreamSynchronize", ADDRESS);
        cuStreamDestroy = fn("cuStreamDestroy_v2", ADDRESS);
        cuStreamWriteValue64 = fn("cuStreamWriteValue64_v2", ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT);
        cuStreamWaitValue64 = fn("cuStreamWaitValue64_v2", ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT);
    }

    /** The driver, initialised, if libcuda.so.1 loads and sees at least one GPU. */
    static Optional<TestCudaDriver> open() {
        try {
            TestCudaDriver d = new TestCudaDriver(SymbolLookup.libraryLookup("libcuda.so.1", ARENA));
            d.check("cuInit", (int) d.cuInit.invokeExact(0));
            return d.deviceCount() > 0 ? Optional.of(d) : Optional.empty();
        } catch (Throwable t) {
            return Optional.empty();
        }
    }

    int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check("cuDeviceGetCount", (int) cuDeviceGetCount.invokeExact(n));
            return n.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    GpuDevice device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dev = a.allocate(JAVA_INT);
            check("cuDeviceGet", (int) cuDeviceGet.invokeExact(dev, ordinal));
            MemorySegment ctx = a.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", (int) cuDevicePrimaryCtxRetain.invokeExact(ctx, dev.get(JAVA_INT, 0)));
            return new GpuDevice(ordinal, ctx.get(ADDRESS, 0));
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    private MethodHandle fn(String name, java.lang.foreign.MemoryLayout... args) {
        return LINKER.downcallHandle(lib.find(name).orElseThrow(() -> new IllegalStateException("no " + name)),
                FunctionDescriptor.of(JAVA_INT, args));
    }

    private void check(String what, int rc) {
        if (rc != 0) {
            throw new IllegalStateException(what + " failed: CUresult " + rc);
        }
    }

    private static RuntimeException wrap(Throwable t) {
        return t instanceof RuntimeException r ? r : new IllegalStateException(t);
    }

    final class GpuDevice implements Device {
        final int ordinal;
        final MemorySegment context;

        GpuDevice(int ordinal, MemorySegment context) {
            this.ordinal = ordinal;
            this.context = context;
        }

        void makeCurrent() {
            try {
                check("cuCtxSetCurrent", (int) cuCtxSetCurrent.invokeExact(context));
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public DeviceKind kind() {
            return DeviceKind.CUDA;
        }

        @Override
        public int ordinal() {
            return ordinal;
        }

        @Override
        public String name() {
            return "cuda:" + ordinal;
        }

        @Override
        public long totalMemory() {
            return 0;
        }

        @Override
        public long freeMemory() {
            return 0;
        }

        @Override
        public GpuBuffer allocate(long bytes) {
            makeCurrent();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(JAVA_LONG);
                check("cuMemAlloc", (int) cuMemAlloc.invokeExact(p, bytes));
                return new GpuBuffer(this, p.get(JAVA_LONG, 0), bytes, null);
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public void free(DeviceBuffer buffer) {
            makeCurrent();
            try {
                if (buffer.isHostAccessible()) {
                    check("cuMemFreeHost", (int) cuMemFreeHost.invokeExact(MemorySegment.ofAddress(buffer.address())));
                } else {
                    check("cuMemFree", (int) cuMemFree.invokeExact(buffer.address()));
                }
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public GpuBuffer allocatePinnedHost(long bytes) {
            makeCurrent();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(ADDRESS);
                // PORTABLE | DEVICEMAP: with unified addressing the host pointer is also the device pointer
                check("cuMemHostAlloc", (int) cuMemHostAlloc.invokeExact(p, bytes, 0x1 | 0x2));
                MemorySegment host = p.get(ADDRESS, 0).reinterpret(bytes);
                return new GpuBuffer(this, host.address(), bytes, host);
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public GpuStream createStream() {
            makeCurrent();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(ADDRESS);
                check("cuStreamCreate", (int) cuStreamCreate.invokeExact(s, 0x1 /* non-blocking */));
                return new GpuStream(this, s.get(ADDRESS, 0));
            } catch (Throwable t) {
                throw wrap(t);
            }
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

    record GpuBuffer(GpuDevice device, long address, long byteSize, MemorySegment host) implements DeviceBuffer {
        @Override
        public boolean isHostAccessible() {
            return host != null;
        }

        @Override
        public MemorySegment segment() {
            if (host == null) {
                throw new IllegalStateException("device memory");
            }
            return host;
        }

        @Override
        public GpuBuffer slice(long offset, long bytes) {
            return new GpuBuffer(device, address + offset, bytes, host == null ? null : host.asSlice(offset, bytes));
        }
    }

    final class GpuStream implements DeviceStream, NativeCudaStream {
        final GpuDevice device;
        final MemorySegment stream;

        GpuStream(GpuDevice device, MemorySegment stream) {
            this.device = device;
            this.stream = stream;
        }

        @Override
        public long nativeHandle() {
            return stream.address();
        }

        @Override
        public int deviceOrdinal() {
            return device.ordinal;
        }

        @Override
        public void makeContextCurrent() {
            device.makeCurrent();
        }

        @Override
        public Device device() {
            return device;
        }

        /** Synchronous here (the stream is synchronised first): tests only. */
        @Override
        public void copyFromHost(MemorySegment src, DeviceBuffer dst, long dstOffset) {
            synchronize();
            try {
                check("cuMemcpyHtoD", (int) cuMemcpyHtoD.invokeExact(dst.address() + dstOffset, src, src.byteSize()));
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst) {
            synchronize();
            try {
                check("cuMemcpyDtoH", (int) cuMemcpyDtoH.invokeExact(dst, src.address() + srcOffset, dst.byteSize()));
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public void writeValue(DeviceBuffer flags, long offset, long value) {
            makeContextCurrent();
            try {
                check("cuStreamWriteValue64", (int) cuStreamWriteValue64.invokeExact(stream, flags.address() + offset, value, 0));
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public void waitValue(DeviceBuffer flags, long offset, long atLeast) {
            makeContextCurrent();
            try {
                check("cuStreamWaitValue64", (int) cuStreamWaitValue64.invokeExact(stream, flags.address() + offset, atLeast, 0 /* GEQ */));
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public void synchronize() {
            makeContextCurrent();
            try {
                check("cuStreamSynchronize", (int) cuStreamSynchronize.invokeExact(stream));
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public void close() {
            makeContextCurrent();
            try {
                check("cuStreamDestroy", (int) cuStreamDestroy.invokeExact(stream));
            } catch (Throwable t) {
                throw wrap(t);
            }
        }

        @Override
        public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
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
}
