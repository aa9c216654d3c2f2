package io.cohort.nn;

import io.cohort.core.CohortException;
import io.cohort.device.Tensor;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Turns per-rank {@link TpComm#allReduceSum} calls (SPMD, one thread per rank) into one {@link AllReduceGroup}
 * call with every rank's tensor: ranks meet at a barrier, the last to arrive runs the all-reduce, all leave
 * together. A rank that does not arrive within the timeout, a failing all-reduce, or a failure on any rank
 * ({@link #abort}) breaks the group for good: ranks waiting now and ranks arriving later fail at once, naming
 * themselves, instead of waiting forever. (A rank that failed mid-step leaves the others' state, the KV caches
 * above all, out of step, so there is nothing to resume.)
 */
public final class TpGroup {
    private final AllReduceGroup group;
    private final Duration timeout;
    private final Tensor[] slots;
    private final TensorOps[] ops;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition tripped = lock.newCondition();
    private int arrived;
    private long generation;
    private long allReduceNanos;
    private String broken;

    /** {@code ops[r]} is synchronized by rank r before it arrives, so the all-reduce reads finished partials. */
    public TpGroup(AllReduceGroup group, TensorOps[] ops, Duration timeout) {
        if (ops.length != group.size()) {
            throw new IllegalArgumentException(ops.length + " ranks' ops for a group of " + group.size());
        }
        this.group = group;
        this.ops = ops.clone();
        this.timeout = timeout;
        this.slots = new Tensor[group.size()];
    }

    public int size() {
        return slots.length;
    }

    public AllReduceGroup group() {
        return group;
    }

    /** All-reduces completed so far (per group, not per rank). */
    public long allReduces() {
        lock.lock();
        try {
            return generation;
        } finally {
            lock.unlock();
        }
    }

    /** Time spent inside the all-reduces so far (the collective itself, not the wait for the last rank). */
    public long allReduceNanos() {
        lock.lock();
        try {
            return allReduceNanos;
        } finally {
            lock.unlock();
        }
    }

    /** Why the group is broken, or null. */
    public String broken() {
        lock.lock();
        try {
            return broken;
        } finally {
            lock.unlock();
        }
    }

    public TpComm comm(int rank) {
        if (rank < 0 || rank >= slots.length) {
            throw new IllegalArgumentException("rank " + rank + " outside 0.." + (slots.length - 1));
        }
        return new TpComm() {
            @Override
            public int rank() {
                return rank;
            }

            @Override
            public int size() {
                return slots.length;
            }

            @Override
            public void allReduceSum(Tensor tensor) {
                arrive(rank, tensor);
            }
        };
    }

    /** Breaks the group: ranks waiting in an all-reduce, and any that arrive later, fail at once. */
    public void abort() {
        lock.lock();
        try {
            breakLocked("aborted after a failure on another rank");
        } finally {
            lock.unlock();
        }
    }

    private void breakLocked(String why) {
        if (broken == null) {
            broken = why;
        }
        tripped.signalAll();
    }

    private void arrive(int rank, Tensor tensor) {
        ops[rank].synchronize();
        lock.lock();
        try {
            long call = generation + 1;
            if (broken != null) {
                throw new CohortException("rank " + rank + ": all-reduce #" + call + " abandoned: group " + broken);
            }
            slots[rank] = tensor;
            long gen = generation;
            if (++arrived == slots.length) {
                long start = System.nanoTime();
                try {
                    group.allReduceSum(slots);
                    allReduceNanos += System.nanoTime() - start;
                } catch (RuntimeException e) {
                    breakLocked("failed in all-reduce #" + call + ": " + e.getMessage());
                    throw e;
                } finally {
                    Arrays.fill(slots, null);
                    arrived = 0;
                }
                generation++;
                tripped.signalAll();
                return;
            }
            long nanos = timeout.toNanos();
            while (generation == gen && broken == null) {
                if (nanos <= 0) {
                    breakLocked("timed out in all-reduce #" + call);
                    throw new CohortException("rank " + rank + ": all-reduce #" + call + " timed out after " + timeout
                            + " waiting for the other ranks (" + arrived + " of " + slots.length + " arrived)");
                }
                nanos = tripped.awaitNanos(nanos);
            }
            if (generation == gen) {
                throw new CohortException("rank " + rank + ": all-reduce #" + call + " abandoned: group " + broken);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            breakLocked("interrupted");
            throw new CohortException("rank " + rank + ": interrupted in all-reduce", e);
        } finally {
            lock.unlock();
        }
    }
}
