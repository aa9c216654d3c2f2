package io.cohort.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventQuery;

import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import java.util.concurrent.locks.LockSupport;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUresult;

/** A CUDA event; ordering-only events are created without timing (cheaper to record and wait on). */
public final class CudaEvent implements DeviceEvent {

    private final CudaDevice device;
    private final CUevent event;
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
        device.makeCurrent();
        int r = cuEventQuery(event);
        if (r == CUresult.CUDA_ERROR_NOT_READY) {
            return false;
        }
        Cu.check(r, device.name(), "cuEventQuery");
        return true;
    }

    /** Polls until complete, at most the device's sync timeout. */
    @Override
    public void synchronize() {
        long deadline = System.nanoTime() + device.config().syncTimeout().toNanos();
        int spins = 0;
        while (!isComplete()) {
            if (System.nanoTime() > deadline) {
                throw new DeviceException(device.name() + ": event not reached within " + device.config().syncTimeout());
            }
            if (++spins < 2000) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
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
