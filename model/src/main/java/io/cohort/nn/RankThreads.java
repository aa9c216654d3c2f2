package io.cohort.nn;

import io.cohort.core.CohortException;
import io.cohort.core.IdlePolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntFunction;

/**
 * One thread per rank, each pinned to its rank for the group's life (a device context stays current on it,
 * scratch stays warm). {@link #onEveryRank} runs the same work SPMD on all of them and waits; if one rank
 * fails, {@code onFailure} (e.g. {@link TpGroup#abort}) releases the others from their collectives, and the
 * root cause is rethrown naming the rank.
 *
 * <p>The hand-off is a sequence number per rank, not a queue: a decode step takes 0.1-10 ms and the next one
 * follows within microseconds, so the rank threads and the caller wait busily ({@code cohort.idle.rank}: spin,
 * then yield), then park until the other side unparks them. An executor's queue parks both sides at once, and
 * each wake-up costs tens of microseconds per token. The caller's wait is bounded by the step timeout.
 */
public final class RankThreads implements AutoCloseable {
    private final List<Worker> workers = new ArrayList<>();
    private final Duration timeout;
    private final Runnable onFailure;
    private final IdlePolicy idle = IdlePolicy.defaults("rank");

    /** One rank's thread and its hand-off: the caller posts {@code work} under a new {@code posted} number. */
    private final class Worker implements Runnable {
        final int rank;
        final Thread thread;
        volatile long posted;
        volatile long done;
        volatile boolean parked;
        volatile boolean closed;
        volatile Thread waiter;
        // written before posted (by the caller) or done (by the worker), read after them
        IntFunction<?> work;
        Object result;
        Throwable failure;
        long issued;

        Worker(int rank, String name) {
            this.rank = rank;
            this.thread = Thread.ofPlatform().daemon().name(name).unstarted(this);
        }

        @Override
        public void run() {
            long seen = 0;
            while (!closed) {
                long p = posted;
                if (p == seen) {
                    awaitPost(seen);
                    continue;
                }
                Object r = null;
                Throwable f = null;
                try {
                    r = work.apply(rank);
                } catch (Throwable t) {
                    f = t;
                }
                Thread.interrupted(); // a timed-out step's interrupt ends with it
                result = r;
                failure = f;
                seen = p;
                done = p;
                if (f != null) {
                    // the first failure releases the ranks still waiting in a collective at once
                    onFailure.run();
                }
                Thread w = waiter;
                if (w != null) {
                    LockSupport.unpark(w);
                }
            }
        }

        private void awaitPost(long seen) {
            for (int round = 0; posted == seen && !closed; round++) {
                if (!idle.idle(round)) {
                    parked = true;
                    if (posted == seen && !closed) { // rechecked after flagging: a post before it is not missed
                        LockSupport.park(this);
                    }
                    parked = false;
                    Thread.interrupted();
                }
            }
        }

        void post(IntFunction<?> w) {
            work = w;
            result = null;
            failure = null;
            waiter = Thread.currentThread();
            posted = ++issued;
            if (parked) {
                LockSupport.unpark(thread);
            }
        }
    }

    public RankThreads(int ranks, String name, Duration timeout, Runnable onFailure) {
        this.timeout = timeout;
        this.onFailure = onFailure;
        for (int r = 0; r < ranks; r++) {
            Worker w = new Worker(r, name + "-rank-" + r);
            workers.add(w);
            w.thread.start();
        }
    }

    public int ranks() {
        return workers.size();
    }

    /** Runs {@code work.apply(rank)} on every rank's thread; returns the results in rank order. */
    public <T> List<T> onEveryRank(IntFunction<T> work) {
        return onEveryRank(work, timeout);
    }

    /** Like {@link #onEveryRank(IntFunction)} with its own time limit (loading takes longer than a step). */
    @SuppressWarnings("unchecked")
    public synchronized <T> List<T> onEveryRank(IntFunction<T> work, Duration timeout) {
        for (Worker w : workers) {
            if (w.closed) {
                throw new CohortException("the rank threads are closed");
            }
            w.post(work);
        }
        List<T> results = new ArrayList<>(workers.size());
        long deadline = System.nanoTime() + timeout.toNanos();
        CohortException failure = null;
        for (Worker w : workers) {
            if (!awaitDone(w, deadline)) {
                onFailure.run();
                w.thread.interrupt();
                failure = moreInformative(failure, new CohortException("rank " + w.rank + " did not finish within " + timeout));
                results.add(null);
                continue;
            }
            Throwable cause = w.failure;
            if (cause != null) {
                failure = moreInformative(failure, new CohortException("rank " + w.rank + " failed: " + cause.getMessage(), cause));
                results.add(null);
            } else {
                results.add((T) w.result);
            }
        }
        if (Thread.interrupted()) {
            onFailure.run();
            Thread.currentThread().interrupt();
            throw new CohortException("interrupted while waiting for the ranks");
        }
        if (failure != null) {
            throw failure;
        }
        return results;
    }

    /** Busy, then parked until the worker finishes (it unparks us) or the deadline passes; false at the deadline. */
    private boolean awaitDone(Worker w, long deadline) {
        long target = w.issued;
        for (int round = 0; w.done != target; round++) {
            if (!idle.idle(round)) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || Thread.currentThread().isInterrupted()) {
                    return w.done == target;
                }
                LockSupport.parkNanos(this, left);
            }
        }
        return true;
    }

    /** A rank released by another's failure reports "abandoned"; prefer the rank that failed first. */
    private static CohortException moreInformative(CohortException current, CohortException next) {
        if (current == null) {
            return next;
        }
        return current.getMessage().contains("abandoned") && !next.getMessage().contains("abandoned") ? next : current;
    }

    @Override
    public void close() {
        for (Worker w : workers) {
            w.closed = true;
            LockSupport.unpark(w.thread);
            w.thread.interrupt();
        }
    }
}
