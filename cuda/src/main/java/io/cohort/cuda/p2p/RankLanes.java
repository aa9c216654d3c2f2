package io.cohort.cuda.p2p;

import io.cohort.backend.RankEnqueueException;
import io.cohort.core.CohortException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * Enqueues every rank's part of a collective at once: ranks 1..n-1 on threads of their own (one lane each), rank
 * 0 on the caller's, so that one call costs about one kernel launch rather than n of them in a row (a launch
 * takes about 3 us of host time on an H200 host, LaunchCostBench). Each lane spins for {@code linger} after its
 * last part, so the next collective finds it awake; then it parks until the caller's next post unparks it.
 *
 * <p>Protocol, per lane: the caller writes the call's parameters where {@code work} reads them, then the lane's
 * {@code posted} number (volatile: publishes them); the lane runs {@code work.accept(rank)}, keeps what it threw,
 * then writes {@code done} (publishes that). The caller returns once every lane's {@code done} reached its post,
 * or throws past the deadline. One caller at a time (the group's enqueue locks); nothing is allocated per call.
 */
final class RankLanes implements AutoCloseable {
    /** Parked lanes wake at least this often (a safety net: a post always unparks a parked lane). */
    private static final long PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** Spins of a wait before it yields (a few microseconds: about one kernel launch). */
    private static final int SPINS = 2_000;

    private static final class Lane {
        final int rank;
        volatile long posted;
        volatile long done;
        volatile boolean sleeping;
        RuntimeException error;   // written before done, read after it
        Thread thread;

        Lane(int rank) {
            this.rank = rank;
        }
    }

    private final Lane[] lanes;   // lanes[r] for r in 1..n-1
    private final IntConsumer work;
    private final long lingerNanos;
    private volatile boolean closed;
    private long sequence;

    /** Lanes for ranks 1..ranks-1 running {@code work.accept(rank)} for each post; {@code name} names their threads. */
    RankLanes(int ranks, IntConsumer work, Duration linger, String name) {
        this.work = work;
        this.lingerNanos = linger.toNanos();
        this.lanes = new Lane[ranks];
        for (int r = 1; r < ranks; r++) {
            Lane lane = new Lane(r);
            lanes[r] = lane;
            lane.thread = Thread.ofPlatform().daemon().name(name + "-rank-" + r).start(() -> run(lane));
        }
    }

    /**
     * Runs {@code work} for every rank, rank 0 on this thread, and returns once all have returned. A rank that threw
     * is rethrown as a {@link RankEnqueueException} (the lowest such rank); a lane that has not returned by
     * {@code deadlineNanos} ({@link System#nanoTime}) is a {@link CohortException} naming it.
     */
    void runAll(long deadlineNanos) {
        if (closed) {
            throw new CohortException("cuda-p2p launch lanes are closed");
        }
        long s = ++sequence;
        for (int r = 1; r < lanes.length; r++) {
            Lane lane = lanes[r];
            lane.posted = s;
            if (lane.sleeping) {
                LockSupport.unpark(lane.thread);
            }
        }
        RuntimeException first = null;
        int firstRank = -1;
        try {
            work.accept(0);
        } catch (RuntimeException e) {
            first = e;
            firstRank = 0;
        }
        for (int r = 1; r < lanes.length; r++) {
            Lane lane = lanes[r];
            for (int round = 0; lane.done != s; round++) {
                if (System.nanoTime() - deadlineNanos > 0) {
                    throw new CohortException("rank " + r + "'s enqueue did not return within the collective's deadline"
                            + " (its launch thread " + lane.thread.getName() + " is stuck in the driver)");
                }
                pause(round);
            }
            RuntimeException e = lane.error;
            if (e != null) {
                lane.error = null;
                if (first == null) {
                    first = e;
                    firstRank = r;
                }
            }
        }
        if (first != null) {
            throw first instanceof RankEnqueueException re ? re : new RankEnqueueException(firstRank, first);
        }
    }

    /** A wait's round: spin a while (a lane's part takes microseconds), then yield, so that a host with fewer
     *  cores than spinning threads still schedules whoever the waiter waits for. */
    private static void pause(int round) {
        if (round < SPINS) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    private void run(Lane lane) {
        long seen = 0;
        int idleRounds = 0;
        long lastWork = System.nanoTime();
        while (!closed) {
            long p = lane.posted;
            if (p != seen) {
                seen = p;
                try {
                    work.accept(lane.rank);
                } catch (RuntimeException e) {
                    lane.error = e;
                }
                lane.done = p;
                lastWork = System.nanoTime();
                idleRounds = 0;
                continue;
            }
            if (System.nanoTime() - lastWork < lingerNanos) {
                pause(idleRounds++);
                continue;
            }
            idleRounds = 0;
            lane.sleeping = true;
            if (lane.posted == seen && !closed) {   // rechecked after flagging: a post before it is not missed
                LockSupport.parkNanos(this, PARK_NANOS);
            }
            lane.sleeping = false;
        }
    }

    /** Stops the lanes (after their current part). */
    @Override
    public void close() {
        closed = true;
        for (int r = 1; r < lanes.length; r++) {
            LockSupport.unpark(lanes[r].thread);
        }
        for (int r = 1; r < lanes.length; r++) {
            try {
                lanes[r].thread.join(2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Whether lane {@code rank} is parked now (for tests). */
    boolean sleeping(int rank) {
        return lanes[rank].sleeping;
    }
}
