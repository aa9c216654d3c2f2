package io.cohort.cuda;

import io.cohort.core.IdlePolicy;
import java.util.function.IntSupplier;
import jcuda.driver.CUresult;

/**
 * How a host thread waits for work on a CUDA device: polls a driver query ({@code cuEventQuery},
 * {@code cuStreamQuery}) under the {@code cohort.idle.cuda} {@link IdlePolicy}, spinning, then yielding, until
 * the work is done or the deadline passes. Never a timed park (its wake-up comes a timer slack late, about
 * 50 us, longer than a small collective).
 *
 * <p>Why polling rather than a blocking-sync event and {@code cuEventSynchronize}: the driver's blocking waits
 * take no timeout, and a stream stuck on a peer's flag (a stream memory op waits without one) would hold the
 * caller past its deadline for good. Polling keeps every wait bounded; yielding hands the core to whoever the
 * waiter waits for. So the policy must yield until the deadline ({@code yields = -1}): no waker exists to end
 * a blocked phase.
 */
final class DriverWait {

    /** What {@link #until} returns when the deadline passed first. */
    static final int TIMED_OUT = -1;

    private DriverWait() {
    }

    /**
     * Polls {@code query} (a CUresult) until it is anything but {@code CUDA_ERROR_NOT_READY} (returned), or until
     * {@code deadlineNanos} ({@link System#nanoTime}), then {@link #TIMED_OUT}. Allocates nothing.
     */
    static int until(IntSupplier query, IdlePolicy idle, long deadlineNanos) {
        for (int round = 0; ; round++) {
            int r = query.getAsInt();
            if (r != CUresult.CUDA_ERROR_NOT_READY) {
                return r;
            }
            if (System.nanoTime() - deadlineNanos > 0) {
                return TIMED_OUT;
            }
            if (!idle.idle(round)) {
                Thread.yield(); // unreachable with yields = -1 (checked in CudaConfig): the deadline ends the wait
            }
        }
    }

    /** The policy of a CUDA wait: it must yield until its deadline (see the class comment). */
    static IdlePolicy checked(IdlePolicy policy, String key) {
        if (policy.yields() != -1) {
            throw new IllegalArgumentException(key + " must have yields = -1 (a CUDA wait polls the driver until its"
                    + " deadline: the driver has no bounded blocking wait), got yields = " + policy.yields());
        }
        return policy;
    }
}
