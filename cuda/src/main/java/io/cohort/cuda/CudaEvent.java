package io.cohort.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventQuery;

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
    /** The query {@link DriverWait} polls, made once: a wait allocates nothing. */
    private final IntSupplier query = this::query;
    private volatile boolean closed;

    CudaEvent(CudaDevice device, boolean timing) {
        this.device = device;
        device.makeCurrent();
        this.event = new CUevent();
        Cu.check(cuEventCreate(event, timing ? CUevent_flags.CU_EVENT_DEFAULT : CUevent_flags.CU_EVENT_DISABLE_TIMING),
                device.name(), "cuEventCreate");
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
        device.makeCurrent();
        return cuEventQuery(event);
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
