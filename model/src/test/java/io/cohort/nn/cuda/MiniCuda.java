package io.cohort.nn.cuda;

import io.cohort.cuda.NativeCudaStream;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Just enough of the CUDA driver API (primary context of device 0, memory, copies on the default stream) for
 * the cuBLAS tests to stand alone, bound through java.lang.foreign.
 */
final class MiniCuda implements NativeCudaStream, AutoCloseable {
    private static final Linker LINKER = Linker.nativeLinker();
    private final MethodHandle memAlloc, memFree, htod, dtoh, ctxSetCurrent, ctxSynchronize;
    private final MemorySegment context;
    private final Arena arena = Arena.ofShared();

    MiniCuda() throws Throwable {
        SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        MethodHandle init = h(lib, "cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        MethodHandle retain = h(lib, "cuDevicePrimaryCtxRetain", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        memAlloc = h(lib, "cuMemAlloc_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        memFree = h(lib, "cuMemFree_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        htod = h(lib, "cuMemcpyHtoD_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG));
        dtoh = h(lib, "cuMemcpyDtoH_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
        ctxSetCurrent = h(lib, "cuCtxSetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        ctxSynchronize = h(lib, "cuCtxSynchronize", FunctionDescriptor.of(JAVA_INT));
        check((int) init.invokeExact(0), "cuInit");
        MemorySegment ctx = arena.allocate(ADDRESS);
        check((int) retain.invokeExact(ctx, 0), "cuDevicePrimaryCtxRetain");
        context = ctx.get(ADDRESS, 0);
        makeContextCurrent();
    }

    static boolean available() {
        try (MiniCuda cuda = new MiniCuda()) {
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    private static MethodHandle h(SymbolLookup lib, String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(lib.find(name).orElseThrow(), fd);
    }

    private static void check(int status, String call) {
        if (status != 0) {
            throw new IllegalStateException(call + " failed with CUresult " + status);
        }
    }

    /** A device buffer of {@code bytes} (freed with the context's process; tests are short). */
    DeviceBuffer allocate(long bytes) throws Throwable {
        MemorySegment p = arena.allocate(JAVA_LONG);
        check((int) memAlloc.invokeExact(p, bytes), "cuMemAlloc");
        return new Buffer(p.get(JAVA_LONG, 0), bytes);
    }

    void upload(MemorySegment host, DeviceBuffer dst) throws Throwable {
        check((int) htod.invokeExact(dst.address(), host, host.byteSize()), "cuMemcpyHtoD");
    }

    void download(DeviceBuffer src, MemorySegment host) throws Throwable {
        check((int) ctxSynchronize.invokeExact(), "cuCtxSynchronize");
        check((int) dtoh.invokeExact(host, src.address(), host.byteSize()), "cuMemcpyDtoH");
    }

    void free(DeviceBuffer b) throws Throwable {
        check((int) memFree.invokeExact(b.address()), "cuMemFree");
    }

    @Override
    public long nativeHandle() {
        return 0; // the legacy default stream
    }

    @Override
    public int deviceOrdinal() {
        return 0;
    }

    @Override
    public void makeContextCurrent() {
        try {
            check((int) ctxSetCurrent.invokeExact(context), "cuCtxSetCurrent");
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public void close() {
        arena.close();
    }

    private record Buffer(long address, long byteSize) implements DeviceBuffer {
        @Override
        public Device device() {
            throw new UnsupportedOperationException("test buffer");
        }

        @Override
        public boolean isHostAccessible() {
            return false;
        }

        @Override
        public MemorySegment segment() {
            throw new UnsupportedOperationException("device memory");
        }

        @Override
        public DeviceBuffer slice(long offset, long bytes) {
            return new Buffer(address + offset, bytes);
        }
    }
}
