package io.cohort.model;

import io.cohort.core.CohortException;
import java.time.Duration;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Where the ranks' threads meet before a step none may start alone (the first launch of freshly captured
 * graphs): every rank arrives, or all fail in one line, at once when a rank gives up, else at the deadline.
 * Reusable: it resets when all have passed.
 */
final class RankRendezvous {
    private final CyclicBarrier barrier;
    private final Duration timeout;
    private final String what;

    RankRendezvous(int ranks, Duration timeout, String what) {
        this.barrier = new CyclicBarrier(ranks);
        this.timeout = timeout;
        this.what = what;
    }

    /** Rank {@code r} is ready; returns when every rank is. */
    void arrive(int r) {
        try {
            barrier.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new CohortException("rank " + r + ": the other ranks did not " + what + " within "
                    + timeout.toMillis() + " ms");
        } catch (BrokenBarrierException e) {
            throw new CohortException("rank " + r + ": another rank failed to " + what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CohortException("rank " + r + ": interrupted while the ranks " + what);
        }
    }

    /** Rank {@code r} will not arrive (it failed): the ranks waiting fail now rather than at the deadline. */
    void abandon() {
        barrier.reset();
    }
}
