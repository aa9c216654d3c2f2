package io.cohort.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The driver calls on the enqueue hot path, bound through java.lang.foreign to the same libcuda.so.1
 * JCuda uses: kernel arguments live in native memory written in place, so a launch crosses into native code
 * once, with no JNI array pinning and no wrapper objects. Everything else goes through JCuda. (Not
 * {@code Linker.Option.critical}: a launch can block while the driver's queue is full, and must not hold
 * off garbage collection meanwhile.)
 */
final class DriverCalls {

    private static final MethodHandle LAUNCH;
    private static final MethodHandle LAUNCH_EX;   // null where the driver lacks cuLaunchKernelEx (before CUDA 12)
    private static final MethodHandle CTX_SET_CURRENT;
    private static final MethodHandle EVENT_RECORD;
    private static final MethodHandle EVENT_QUERY;
    private static final MethodHandle STREAM_QUERY;
    private static final MethodHandle STREAM_IS_CAPTURING;
    private static final MethodHandle MEMCPY_ASYNC;
    private static final MethodHandle MEMCPY_PEER_ASYNC;
    private static final MethodHandle WRITE_VALUE_64;
    private static final MethodHandle WAIT_VALUE_64;

    static {
        SymbolLookup cuda = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        Linker linker = Linker.nativeLinker();
        ValueLayout.OfInt u32 = ValueLayout.JAVA_INT;
        // CUresult cuLaunchKernel(CUfunction, gx, gy, gz, bx, by, bz, sharedMem, CUstream, void** params, void** extra)
        LAUNCH = linker.downcallHandle(cuda.find("cuLaunchKernel").orElseThrow(),
                FunctionDescriptor.of(u32, ValueLayout.JAVA_LONG, u32, u32, u32, u32, u32, u32, u32,
                        ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        // CUresult cuLaunchKernelEx(const CUlaunchConfig*, CUfunction, void** params, void** extra)
        LAUNCH_EX = cuda.find("cuLaunchKernelEx").map(f -> linker.downcallHandle(f, FunctionDescriptor.of(u32,
                ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS))).orElse(null);
        CTX_SET_CURRENT = linker.downcallHandle(cuda.find("cuCtxSetCurrent").orElseThrow(),
                FunctionDescriptor.of(u32, ValueLayout.JAVA_LONG));
        ValueLayout.OfLong u64 = ValueLayout.JAVA_LONG;
        // CUresult cuEventRecord(CUevent, CUstream); cuEventQuery(CUevent); cuStreamIsCapturing(CUstream, int*)
        EVENT_RECORD = linker.downcallHandle(cuda.find("cuEventRecord").orElseThrow(), FunctionDescriptor.of(u32, u64, u64));
        EVENT_QUERY = linker.downcallHandle(cuda.find("cuEventQuery").orElseThrow(), FunctionDescriptor.of(u32, u64));
        STREAM_QUERY = linker.downcallHandle(cuda.find("cuStreamQuery").orElseThrow(), FunctionDescriptor.of(u32, u64));
        STREAM_IS_CAPTURING = linker.downcallHandle(symbol(cuda, "cuStreamIsCapturing"),
                FunctionDescriptor.of(u32, u64, ValueLayout.ADDRESS));
        // CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream)
        MEMCPY_ASYNC = linker.downcallHandle(cuda.find("cuMemcpyAsync").orElseThrow(),
                FunctionDescriptor.of(u32, u64, u64, u64, u64));
        // CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dstCtx, CUdeviceptr src, CUcontext srcCtx, size_t, CUstream)
        MEMCPY_PEER_ASYNC = linker.downcallHandle(cuda.find("cuMemcpyPeerAsync").orElseThrow(),
                FunctionDescriptor.of(u32, u64, u64, u64, u64, u64, u64));
        // CUresult cuStream{Write,Wait}Value64(CUstream, CUdeviceptr, cuuint64_t, unsigned flags): cuda.h maps both
        // to their _v2 symbols (the originals need the legacy stream-memops opt-in)
        WRITE_VALUE_64 = linker.downcallHandle(symbol(cuda, "cuStreamWriteValue64"),
                FunctionDescriptor.of(u32, u64, u64, u64, u32));
        WAIT_VALUE_64 = linker.downcallHandle(symbol(cuda, "cuStreamWaitValue64"),
                FunctionDescriptor.of(u32, u64, u64, u64, u32));
    }

    private DriverCalls() {
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name + "_v2").or(() -> lib.find(name)).orElseThrow();
    }

    static int memcpyAsync(long dst, long src, long bytes, long stream) {
        try {
            return (int) MEMCPY_ASYNC.invokeExact(dst, src, bytes, stream);
        } catch (Throwable t) {
            throw new IllegalStateException("cuMemcpyAsync downcall failed", t);
        }
    }

    static int memcpyPeerAsync(long dst, long dstContext, long src, long srcContext, long bytes, long stream) {
        try {
            return (int) MEMCPY_PEER_ASYNC.invokeExact(dst, dstContext, src, srcContext, bytes, stream);
        } catch (Throwable t) {
            throw new IllegalStateException("cuMemcpyPeerAsync downcall failed", t);
        }
    }

    static int writeValue64(long stream, long address, long value, int flags) {
        try {
            return (int) WRITE_VALUE_64.invokeExact(stream, address, value, flags);
        } catch (Throwable t) {
            throw new IllegalStateException("cuStreamWriteValue64 downcall failed", t);
        }
    }

    static int waitValue64(long stream, long address, long value, int flags) {
        try {
            return (int) WAIT_VALUE_64.invokeExact(stream, address, value, flags);
        } catch (Throwable t) {
            throw new IllegalStateException("cuStreamWaitValue64 downcall failed", t);
        }
    }

    /** cuLaunchKernel with a 1-D grid; {@code params} is a native void*[] pointing at the argument structs. */
    static int launch(long function, int grid, int block, long stream, MemorySegment params) {
        try {
            return (int) LAUNCH.invokeExact(function, grid, 1, 1, block, 1, 1, 0, stream, params, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new IllegalStateException("cuLaunchKernel downcall failed", t);
        }
    }

    static int eventRecord(long event, long stream) {
        try {
            return (int) EVENT_RECORD.invokeExact(event, stream);
        } catch (Throwable t) {
            throw new IllegalStateException("cuEventRecord downcall failed", t);
        }
    }

    static int eventQuery(long event) {
        try {
            return (int) EVENT_QUERY.invokeExact(event);
        } catch (Throwable t) {
            throw new IllegalStateException("cuEventQuery downcall failed", t);
        }
    }

    static int streamQuery(long stream) {
        try {
            return (int) STREAM_QUERY.invokeExact(stream);
        } catch (Throwable t) {
            throw new IllegalStateException("cuStreamQuery downcall failed", t);
        }
    }

    /** cuStreamIsCapturing into {@code status} (one int, the caller's). */
    static int streamIsCapturing(long stream, MemorySegment status) {
        try {
            return (int) STREAM_IS_CAPTURING.invokeExact(stream, status);
        } catch (Throwable t) {
            throw new IllegalStateException("cuStreamIsCapturing downcall failed", t);
        }
    }

    /** Whether {@link #launchProgrammatic} is available (the driver has cuLaunchKernelEx). */
    static boolean hasLaunchEx() {
        return LAUNCH_EX != null;
    }

    /** cuLaunchKernelEx with programmatic stream serialization (programmatic dependent launch). */
    static int launchProgrammatic(long function, int grid, int block, long stream, ProgrammaticLaunch config,
                                  MemorySegment params) {
        try {
            return (int) LAUNCH_EX.invokeExact(config.of(grid, block, 0, stream), function, params, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new IllegalStateException("cuLaunchKernelEx downcall failed", t);
        }
    }

    static int ctxSetCurrent(long context) {
        try {
            return (int) CTX_SET_CURRENT.invokeExact(context);
        } catch (Throwable t) {
            throw new IllegalStateException("cuCtxSetCurrent downcall failed", t);
        }
    }
}
