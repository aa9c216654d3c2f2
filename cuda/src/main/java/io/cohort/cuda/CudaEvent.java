package io.cohort.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;

import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import java.util.function.IntSupplier;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUresult;

/** A CUDA event; ordering-only events are created without timing (cheaper to record and wait on). */
public final class CudaEvent implements DeviceEvent {

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

    CudaEvent(CudaDevice device, boolean timing) {
        this.device = device;
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
        records++;   // one recording thread at a time (the stream's owner)
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
        device.makeCurrent();
        int q = DriverCalls.eventQuery(handle);
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
    }
}
