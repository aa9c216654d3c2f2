package io.cohort.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;

import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.function.IntSupplier;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUresult;

/**
 * A CUDA event; ordering-only events are created without timing (cheaper to record and wait on). A completion
 * event ({@link CudaDevice#createCompletionEvent}) also has a pinned host word that its stream sets right behind
 * each record ({@code cuStreamWriteValue64}): whoever polls it reads memory instead of calling
 * {@code cuEventQuery}, and asks the driver only every {@value #DRIVER_QUERY_EVERY}th poll (for a failure of the
 * recorded work, which stops the stream before the word is written).
 */
public final class CudaEvent implements DeviceEvent {

    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final CudaDevice device;
    private final CUevent event;
    private final long handle;
    // Records made (bumped by CudaStream#record once cuEventRecord returned) and the last of them a query saw
    // complete: an event seen complete is not asked again until it is recorded anew, so a completion found by
    // one waiter costs the others nothing (cuEventQuery is about 1.7 us on an H200 host, HostPathBench).
    private volatile long records;
    private volatile long completed;
    /** The query {@link DriverWait} polls, made once: a wait allocates nothing. */
    private final IntSupplier query = this::query;
    private volatile boolean closed;
    /** The host word behind each record, or null (an ordering event, or no stream memory operations). */
    private final CompletionWords.Word word;
    private final MemorySegment wordSegment;
    private final long wordOffset;
    /** Polls that found the word short since the last driver query (racy between pollers: only a pacing count). */
    private int misses;
    /** The stream whose kernel made the last record ({@link #recordedByKernel}), or 0 (the last record was cuEventRecord). */
    private volatile long kernelStream;
    static final int DRIVER_QUERY_EVERY = 64;

    CudaEvent(CudaDevice device, boolean timing) {
        this(device, timing, null);
    }

    CudaEvent(CudaDevice device, boolean timing, CompletionWords.Word word) {
        this.device = device;
        this.word = word;
        this.wordSegment = word == null ? null : word.page().segment();
        this.wordOffset = word == null ? 0 : word.offset();
        device.makeCurrent();
        this.event = new CUevent();
        Cu.check(cuEventCreate(event, timing ? CUevent_flags.CU_EVENT_DEFAULT : CUevent_flags.CU_EVENT_DISABLE_TIMING),
                device.name(), "cuEventCreate");
        this.handle = Jcu.handle(event);
    }

    long handle() {
        return handle;
    }

    /** Called by the stream after each cuEventRecord of this event. */
    void recorded() {
        kernelStream = 0;
        records++;   // one recording thread at a time (the stream's owner)
    }

    /**
     * Whether a kernel may stand in for a record of this event ({@link #armForKernel}): it has a host word. A
     * kernel that says it is done by writing the word saves the record and the stream write behind it (two driver
     * calls, and a stream operation the GPU runs after the kernel).
     */
    public boolean kernelCanSignal() {
        return word != null && !closed;
    }

    /** The device address a kernel writes {@link #nextRecord} to once it is done (see {@link #kernelCanSignal}). */
    public long kernelWordAddress() {
        return word.deviceAddress();
    }

    /** The number the next record gets: what the kernel standing in for it writes into the word. */
    public long kernelWordValue() {
        return nextRecord();
    }

    /**
     * Counts a record made by a kernel just launched on {@code stream} that writes {@link #kernelWordValue} into
     * {@link #kernelWordAddress} as its last act. Until the word says so, the event is not complete; the driver is
     * then asked about the stream ({@code cuStreamQuery}: done, or the failure that stopped it) instead of the event,
     * which this record did not touch.
     */
    public void recordedByKernel(CudaStream stream) {
        kernelStream = stream.nativeHandle();
        records++;
    }

    /** Whether the last record was made by a kernel ({@link #recordedByKernel}) rather than cuEventRecord. */
    public boolean lastRecordedByKernel() {
        return kernelStream != 0;
    }

    /** The device address the stream writes {@link #nextRecord} to behind a record, or 0 without a word. */
    long wordAddress() {
        return word == null ? 0 : word.deviceAddress();
    }

    /** The number the next record gets (what its stream writes into the word). */
    long nextRecord() {
        return records + 1;
    }

    CUevent cuEvent() {
        return event;
    }

    @Override
    public boolean isComplete() {
        int r = query();
        if (r == CUresult.CUDA_ERROR_NOT_READY) {
            return false;
        }
        Cu.check(r, device.name(), "cuEventQuery");
        return true;
    }

    private int query() {
        long r = records;   // read before the query: a record after it is not covered by its answer
        if (completed == r) {
            return CUresult.CUDA_SUCCESS;
        }
        if (wordSegment != null) {
            if ((long) WORD.getVolatile(wordSegment, wordOffset) >= r) {
                completed = r;
                return CUresult.CUDA_SUCCESS;
            }
            if (++misses < DRIVER_QUERY_EVERY) {
                return CUresult.CUDA_ERROR_NOT_READY;
            }
            misses = 0;
        }
        device.makeCurrent();
        long ks = kernelStream;
        int q = ks != 0 ? DriverCalls.streamQuery(ks) : DriverCalls.eventQuery(handle);
        if (q == CUresult.CUDA_SUCCESS) {
            completed = r;
        }
        return q;
    }

    /** Waits until complete ({@link DriverWait}), at most the device's sync timeout. */
    @Override
    public void synchronize() {
        synchronize(device.config().syncTimeout().toNanos());
    }

    /** Waits until complete ({@link DriverWait}), at most {@code timeoutNanos} and the device's sync timeout. */
    @Override
    public void synchronize(long timeoutNanos) {
        long bound = Math.min(timeoutNanos, device.config().syncTimeout().toNanos());
        int r = DriverWait.until(query, device.config().waitPolicy(), System.nanoTime() + bound);
        if (r == DriverWait.TIMED_OUT) {
            throw new DeviceException(device.name() + ": event not reached within " + bound / 1_000_000 + " ms");
        }
        Cu.check(r, device.name(), "cuEventQuery");
        device.checkKernelErrors();
    }

    /** Milliseconds between {@code start}'s record and this event's record (both timing events, both complete). */
    public float elapsedMillis(CudaEvent start) {
        float[] ms = new float[1];
        device.makeCurrent();
        Cu.check(cuEventElapsedTime(ms, start.event, event), device.name(), "cuEventElapsedTime");
        return ms[0];
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.makeCurrent();
        Cu.check(cuEventDestroy(event), device.name(), "cuEventDestroy");
        if (word != null) {
            device.completionWords().give(word);
        }
    }
}
