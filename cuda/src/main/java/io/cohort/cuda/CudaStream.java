package io.cohort.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamQuery;
import static jcuda.driver.JCudaDriver.cuStreamWaitEvent;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Objects;
import java.util.function.IntSupplier;
import jcuda.driver.CUresult;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUmemorytype;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureStatus;
import jcuda.driver.JCudaDriver;
import jcuda.driver.CUstreamWaitValue_flags;
import jcuda.driver.CUstream_flags;

/**
 * A non-blocking CUDA stream. Copies use the copy engines (cuMemcpyAsync, cuMemcpyPeerAsync between
 * devices); reduce and scale launch Cohort's element-wise kernels; flags use stream memory operations or
 * kernels ({@link FlagOps}). Kernel arguments live in arrays owned by the stream and rewritten per launch, so
 * enqueueing allocates no argument blocks: one thread enqueues on a stream at a time (its DeviceActor).
 */
public final class CudaStream implements DeviceStream, NativeCudaStream {

    static final int THREADS = 512;

    private final CudaDevice device;
    private final CUstream stream;
    private final long handle;
    private final FlagOps flagOps;
    // struct ElemArgs { a, b, dst, count, factor } and struct FlagArgs { flag, value, timeout_ns, error }
    private final KernelArgs elemArgs = new KernelArgs(5);
    private final KernelArgs flagArgs = new KernelArgs(4);
    /** The query {@link DriverWait} polls, made once: a wait allocates nothing. */
    private final IntSupplier query = this::query;
    // cuStreamIsCapturing's answer (asked at every collective's enqueue: no array per call)
    private final MemorySegment captureStatus = Arena.ofAuto().allocate(4, 4);
    private final int maxGrid;
    private volatile boolean closed;

    CudaStream(CudaDevice device, FlagOps flagOps) {
        this.device = device;
        this.flagOps = flagOps;
        device.makeCurrent();
        this.stream = new CUstream();
        Cu.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), device.name(), "cuStreamCreate");
        this.handle = Jcu.handle(stream);
        this.maxGrid = device.multiprocessors() * 4;
    }

    @Override
    public CudaDevice device() {
        return device;
    }

    /** JCuda's handle, for code in this module that calls the driver directly. */
    public CUstream cuStream() {
        return stream;
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
        device.makeCurrent();
    }

    public FlagOps flagOps() {
        return flagOps;
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
        check(src, srcOffset, bytes, "copy source");
        check(dst, dstOffset, bytes, "copy destination");
        if (bytes == 0) {
            return;
        }
        device.makeCurrent();
        long s = src.address() + srcOffset;
        long d = dst.address() + dstOffset;
        int r;
        if (src instanceof CudaBuffer cs && dst instanceof CudaBuffer cd && cs.device() != cd.device()
                && !cs.isPinnedHost() && !cd.isPinnedHost()) {
            r = DriverCalls.memcpyPeerAsync(d, cd.device().contextHandle(), s, cs.device().contextHandle(), bytes, handle);
        } else {
            r = DriverCalls.memcpyAsync(d, s, bytes, handle);   // UVA: the driver infers the direction
        }
        Cu.check(r, device.name(), "copy of " + bytes + " bytes " + src + " -> " + dst);
    }

    /** Whether this stream is capturing into a CUDA graph now (work enqueued is recorded, not run). */
    public boolean isCapturing() {
        return isCapturing(captureStatus);
    }

    /** {@link #isCapturing()} answered into {@code status} (4 bytes): for a thread other than the enqueuing one. */
    boolean isCapturing(MemorySegment status) {
        device.makeCurrent();
        Cu.check(DriverCalls.streamIsCapturing(handle, status), device.name(), "cuStreamIsCapturing");
        return status.get(java.lang.foreign.ValueLayout.JAVA_INT, 0) != CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_NONE;
    }

    /**
     * A strided copy of {@code height} rows of {@code widthBytes}: row i from src+srcOffset+i·srcPitch to
     * dst+dstOffset+i·dstPitch (device or pinned host memory, by unified address), one cuMemcpy2DAsync.
     */
    public void copy2D(DeviceBuffer src, long srcOffset, long srcPitch, DeviceBuffer dst, long dstOffset, long dstPitch,
                       long widthBytes, long height) {
        if (height == 0 || widthBytes == 0) {
            return;
        }
        long lastByte = (height - 1) * Math.max(srcPitch, 0) + srcOffset + widthBytes;
        long lastDst = (height - 1) * Math.max(dstPitch, 0) + dstOffset + widthBytes;
        if (widthBytes > srcPitch || widthBytes > dstPitch || lastByte > src.byteSize() || lastDst > dst.byteSize()) {
            throw new DeviceException(device.name() + ": 2-D copy of " + height + " rows of " + widthBytes
                    + " bytes does not fit its buffers (pitches " + srcPitch + ", " + dstPitch + ")");
        }
        CUDA_MEMCPY2D m = new CUDA_MEMCPY2D();
        m.srcMemoryType = CUmemorytype.CU_MEMORYTYPE_UNIFIED;
        m.srcDevice = Jcu.device(src.address() + srcOffset);
        m.srcPitch = srcPitch;
        m.dstMemoryType = CUmemorytype.CU_MEMORYTYPE_UNIFIED;
        m.dstDevice = Jcu.device(dst.address() + dstOffset);
        m.dstPitch = dstPitch;
        m.WidthInBytes = widthBytes;
        m.Height = height;
        device.makeCurrent();
        Cu.check(JCudaDriver.cuMemcpy2DAsync(m, stream), device.name(), "cuMemcpy2DAsync");
    }

    @Override
    public void copyFromHost(MemorySegment src, DeviceBuffer dst, long dstOffset) {
        long bytes = src.byteSize();
        check(dst, dstOffset, bytes, "copyFromHost destination");
        if (bytes == 0) {
            return;
        }
        device.makeCurrent();
        if (src.isNative()) {
            Cu.check(cuMemcpyHtoDAsync(Jcu.device(dst.address() + dstOffset), Jcu.host(src.address()), bytes, stream),
                    device.name(), "copyFromHost of " + bytes + " bytes");
            return;
        }
        // a heap segment can move: copy through native memory and finish before returning
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment tmp = arena.allocate(bytes, 16).copyFrom(src);
            Cu.check(cuMemcpyHtoDAsync(Jcu.device(dst.address() + dstOffset), Jcu.host(tmp.address()), bytes, stream),
                    device.name(), "copyFromHost of " + bytes + " bytes");
            synchronize();
        }
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        long bytes = dst.byteSize();
        check(src, srcOffset, bytes, "copyToHost source");
        if (bytes == 0) {
            return;
        }
        device.makeCurrent();
        if (dst.isNative()) {
            Cu.check(cuMemcpyDtoHAsync(Jcu.host(dst.address()), Jcu.device(src.address() + srcOffset), bytes, stream),
                    device.name(), "copyToHost of " + bytes + " bytes");
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment tmp = arena.allocate(bytes, 16);
            Cu.check(cuMemcpyDtoHAsync(Jcu.host(tmp.address()), Jcu.device(src.address() + srcOffset), bytes, stream),
                    device.name(), "copyToHost of " + bytes + " bytes");
            synchronize();
            dst.copyFrom(tmp);
        }
    }

    @Override
    public void reduce(DType type, ReduceOp op, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                       DeviceBuffer dst, long dstOffset, long count) {
        long bytes = count * type.bytes();
        check(a, aOffset, bytes, "reduce input a");
        check(b, bOffset, bytes, "reduce input b");
        check(dst, dstOffset, bytes, "reduce output");
        if (count == 0) {
            return;
        }
        elemArgs.set(0, a.address() + aOffset);
        elemArgs.set(1, b.address() + bOffset);
        elemArgs.set(2, dst.address() + dstOffset);
        elemArgs.set(3, count);
        elemArgs.set(4, 0);
        device.launch(device.kernels().reduce(type, op), grid(count, type), THREADS, handle, elemArgs, "reduce");
    }

    @Override
    public void scale(DType type, DeviceBuffer buf, long offset, long count, double factor) {
        check(buf, offset, count * type.bytes(), "scale buffer");
        if (count == 0) {
            return;
        }
        elemArgs.set(0, 0);
        elemArgs.set(1, 0);
        elemArgs.set(2, buf.address() + offset);
        elemArgs.set(3, count);
        elemArgs.setFloat(4, (float) factor);
        device.launch(device.kernels().scale(type), grid(count, type), THREADS, handle, elemArgs, "scale");
    }

    /** Enough blocks for one 16-byte vector per thread, at most 4 per SM (the loops are grid-stride). */
    private int grid(long count, DType type) {
        long vectors = (count * type.bytes() + 15) / 16;
        return (int) Math.max(1, Math.min(maxGrid, (vectors + THREADS - 1) / THREADS));
    }

    @Override
    public void zero(DeviceBuffer buf, long offset, long bytes) {
        check(buf, offset, bytes, "zero buffer");
        if (bytes == 0) {
            return;
        }
        device.makeCurrent();
        Cu.check(cuMemsetD8Async(Jcu.device(buf.address() + offset), (byte) 0, bytes, stream), device.name(), "cuMemsetD8Async");
    }

    @Override
    public void writeValue(DeviceBuffer flags, long offset, long value) {
        checkFlag(flags, offset);
        device.makeCurrent();
        long address = flags.address() + offset;
        if (flagOps == FlagOps.STREAM_MEMORY_OPS) {
            // default flags: the write is ordered after, and its memory barrier publishes, all earlier work
            Cu.check(DriverCalls.writeValue64(handle, address, value, 0), device.name(), "cuStreamWriteValue64");
        } else {
            flagArgs.set(0, address);
            flagArgs.set(1, value);
            flagArgs.set(2, 0);
            flagArgs.set(3, 0);
            device.launch(device.kernels().writeValue(), 1, 1, handle, flagArgs, "writeValue");
        }
    }

    @Override
    public void waitValue(DeviceBuffer flags, long offset, long atLeast) {
        checkFlag(flags, offset);
        device.makeCurrent();
        long address = flags.address() + offset;
        if (flagOps == FlagOps.STREAM_MEMORY_OPS) {
            Cu.check(DriverCalls.waitValue64(handle, address, atLeast, CUstreamWaitValue_flags.CU_STREAM_WAIT_VALUE_GEQ),
                    device.name(), "cuStreamWaitValue64");
        } else {
            flagArgs.set(0, address);
            flagArgs.set(1, atLeast);
            flagArgs.set(2, device.config().flagTimeout().toNanos());
            flagArgs.set(3, device.errorWordAddress());
            device.launch(device.kernels().waitValue(), 1, 1, handle, flagArgs, "waitValue");
        }
    }

    @Override
    public void record(DeviceEvent event) {
        CudaEvent e = cudaEvent(event);
        device.makeCurrent();
        Cu.check(DriverCalls.eventRecord(e.handle(), handle), device.name(), "cuEventRecord");
        long word = e.wordAddress();
        if (word != 0) {
            // behind the record: set once everything before it is done (default flags: after its memory barrier)
            Cu.check(DriverCalls.writeValue64(handle, word, e.nextRecord(), 0), device.name(), "cuStreamWriteValue64");
        }
        e.recorded();
    }

    @Override
    public void waitFor(DeviceEvent event) {
        CudaEvent e = cudaEvent(event);
        device.makeCurrent();
        Cu.check(cuStreamWaitEvent(stream, e.cuEvent(), 0), device.name(), "cuStreamWaitEvent");
    }

    @Override
    public void synchronize() {
        synchronize(device.config().syncTimeout());
    }

    /**
     * Waits for all enqueued work, polling (so that a stream stuck on a flag cannot hang the caller), then
     * reports errors kernels wrote to the device's error word.
     */
    public void synchronize(Duration timeout) {
        awaitIdle(timeout);
        device.checkKernelErrors();
    }

    /** Waits for all enqueued work as {@link #synchronize} does, leaving the device's error word to others. */
    void awaitIdle(Duration timeout) {
        device.makeCurrent();
        int r = DriverWait.until(query, device.config().waitPolicy(), System.nanoTime() + timeout.toNanos());
        if (r == DriverWait.TIMED_OUT) {
            throw new DeviceException(device.name() + ": stream did not finish within " + timeout
                    + " (waiting on a flag or a peer that never arrived?)");
        }
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cu.error(r, device.name(), "stream work");
        }
    }

    /** Whether every piece of work enqueued so far has finished. */
    boolean isIdle() {
        device.makeCurrent();
        return query() == CUresult.CUDA_SUCCESS;
    }

    boolean isClosed() {
        return closed;
    }

    /** One poll of the stream (the caller's thread has the device's context current). */
    private int query() {
        return cuStreamQuery(stream);
    }

    /** A kernel-reported error of this stream's device (not cleared: {@link #synchronize} reports and clears it). */
    @Override
    public DeviceException failure() {
        return device.peekKernelError();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.streamClosed(this);
        device.makeCurrent();
        Cu.check(cuStreamDestroy(stream), device.name(), "cuStreamDestroy");
    }

    private CudaEvent cudaEvent(DeviceEvent event) {
        if (event instanceof CudaEvent e) {
            return e;
        }
        throw new DeviceException(device.name() + ": not a CUDA event: " + event);
    }

    private void check(DeviceBuffer buf, long offset, long bytes, String what) {
        Objects.requireNonNull(buf, what);
        if (offset < 0 || bytes < 0 || offset + bytes > buf.byteSize()) {
            throw new DeviceException(device.name() + ": " + what + " range [" + offset + ", " + (offset + bytes)
                    + ") outside " + buf);
        }
        if (!device.canReach(buf)) {
            throw new DeviceException(device.name() + ": " + what + " " + buf + " is not reachable from this device");
        }
        if (buf instanceof CudaBuffer cb && cb.isFreed()) {
            throw new DeviceException(device.name() + ": " + what + " " + buf + " was freed");
        }
    }

    private void checkFlag(DeviceBuffer flags, long offset) {
        check(flags, offset, 8, "flag");
        if (((flags.address() + offset) & 7) != 0) {
            throw new DeviceException(device.name() + ": flag at offset " + offset + " of " + flags + " is not 8-byte aligned");
        }
    }

    @Override
    public String toString() {
        return "stream[" + device.name() + " 0x" + Long.toHexString(handle) + "]";
    }
}
