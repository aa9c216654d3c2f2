package io.cohort.nn;

import io.cohort.core.CohortException;
import io.cohort.device.Tensor;
import io.cohort.device.DeviceStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Carries per-rank {@link TpComm#allReduceSum} calls (SPMD, one thread per rank) to the group, one of two ways.
 *
 * <p>Stream-ordered, when the group is a {@link StreamOrderedAllReduce}: each rank orders its stream's part
 * after its compute ({@link TensorOps#orderBefore}), enqueues it and orders its next compute after it
 * ({@link TensorOps#orderAfter}); no host synchronize, no host barrier, the devices order the ranks. A rank
 * that fails before enqueueing leaves the others' parts to end in the backend's own timeout (kernel or stream
 * wait), which surfaces where the host next waits (the logits).
 *
 * <p>Otherwise (the host reference all-reduce): one {@link AllReduceGroup} call with every rank's tensor: ranks
 * meet at a barrier, the last to arrive runs the all-reduce, all leave together. A rank that does not arrive within the timeout, a failing all-reduce, or a failure on any rank
 * ({@link #abort}) breaks the group for good: ranks waiting now and ranks arriving later fail at once, naming
 * themselves, instead of waiting forever. (A rank that failed mid-step leaves the others' state, the KV caches
 * above all, out of step, so there is nothing to resume.)
 */
public final class TpGroup {
    private final AllReduceGroup group;
    private final StreamOrderedAllReduce ordered;
    // rank r's fused all-reduce as a GEMV epilogue, or null (bound once: a call allocates nothing)
    private final AllReduceEpilogue[] epilogues;
    private volatile long inKernels;   // written by rank 0's thread only
    private final AtomicLongArray enqueued;
    private final AtomicLong enqueueNanos = new AtomicLong();
    private volatile String brokenOrdered;
    private final Duration timeout;
    private final Tensor[] slots;
    private final TensorOps[] ops;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition tripped = lock.newCondition();
    private int arrived;
    private long generation;
    private long allReduceNanos;
    private String broken;

    /**
     * {@code ops[r]} is rank r's compute: ordered around the group's stream (stream-ordered), or synchronized
     * by rank r before it arrives (barrier), so the all-reduce reads finished partials.
     */
    public TpGroup(AllReduceGroup group, TensorOps[] ops, Duration timeout) {
        if (ops.length != group.size()) {
            throw new IllegalArgumentException(ops.length + " ranks' ops for a group of " + group.size());
        }
        this.group = group;
        this.ops = ops.clone();
        this.timeout = timeout;
        this.slots = new Tensor[group.size()];
        this.ordered = group instanceof StreamOrderedAllReduce s ? s : null;
        this.epilogues = new AllReduceEpilogue[group.size()];
        for (int r = 0; r < epilogues.length && ordered != null; r++) {
            epilogues[r] = ordered.addRmsNormEpilogue(r);
        }
        this.enqueued = new AtomicLongArray(group.size());
    }

    /** Whether all-reduces are stream-ordered (no host synchronize or barrier) rather than a host barrier. */
    public boolean streamOrdered() {
        return ordered != null;
    }

    public int size() {
        return slots.length;
    }

    public AllReduceGroup group() {
        return group;
    }

    /** All-reduces so far (per group, not per rank): completed (barrier), or enqueued by rank 0 (stream-ordered). */
    public long allReduces() {
        if (ordered != null) {
            return enqueued.get(0);
        }
        lock.lock();
        try {
            return generation;
        } finally {
            lock.unlock();
        }
    }

    /** Of {@link #allReduces}, those rank 0 ran as the epilogue of its row-parallel GEMV (stream-ordered only). */
    public long allReducesInKernels() {
        return inKernels;
    }

    /**
     * Host time spent inside the all-reduces so far: the collective itself, not the wait for the last rank
     * (barrier); rank 0's time to enqueue its parts (stream-ordered: the device time is not waited for).
     */
    public long allReduceNanos() {
        if (ordered != null) {
            return enqueueNanos.get();
        }
        lock.lock();
        try {
            return allReduceNanos;
        } finally {
            lock.unlock();
        }
    }

    /** Why the group is broken, or null. */
    public String broken() {
        if (brokenOrdered != null) {
            return brokenOrdered;
        }
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

            @Override
            public boolean allReduceAddRmsNorm(Matrix partial, Matrix residual, RmsNorm norm, Matrix normed) {
                if (ordered == null || !f32(partial, residual, normed)
                        || !ordered.fusesAddRmsNorm(partial.rows(), partial.cols())) {
                    return false;
                }
                enqueue(rank, partial.tensor(), () -> ordered.enqueueAddRmsNorm(rank, partial, residual, norm, normed));
                return true;
            }

            @Override
            public boolean matmulTAllReduceAddRmsNorm(TensorOps o, Matrix x, Matrix w, Matrix residual, RmsNorm norm,
                                                      Matrix normed) {
                AllReduceEpilogue e = epilogues[rank];
                if (e == null || !f32(residual, normed) || !ordered.fusesAddRmsNorm(residual.rows(), residual.cols())) {
                    return false;
                }
                return enqueueInKernel(rank, o, x, w, residual, norm, normed, e);
            }
        };
    }

    /** Breaks the group: ranks waiting in an all-reduce, and any that arrive later, fail at once. */
    public void abort() {
        if (brokenOrdered == null) {
            brokenOrdered = "aborted after a failure on another rank";
        }
        lock.lock();
        try {
            breakLocked("aborted after a failure on another rank");
        } finally {
            lock.unlock();
        }
    }

    private static boolean f32(Matrix... ms) {
        for (Matrix m : ms) {
            if (m.dtype() != io.cohort.core.DType.F32) {
                return false;
            }
        }
        return true;
    }

    private void enqueue(int rank, Tensor tensor) {
        enqueue(rank, tensor, () -> ordered.enqueue(rank, tensor));
    }

    /**
     * Rank {@code rank}'s next collective as the epilogue of its row-parallel GEMV, on its compute stream (so no
     * ordering around the group's stream: the next collective there waits for this stream anyway). Numbered and
     * failed like {@link #enqueue}; false, with nothing taken, where the device has no such kernel.
     */
    private boolean enqueueInKernel(int rank, TensorOps o, Matrix x, Matrix w, Matrix residual, RmsNorm norm,
                                    Matrix normed, AllReduceEpilogue e) {
        long call = enqueued.get(rank) + 1;
        String why = brokenOrdered;
        if (why != null) {
            throw new CohortException("rank " + rank + ": all-reduce #" + call + " abandoned: group " + why);
        }
        long start = System.nanoTime();
        boolean taken;
        try {
            taken = o.matmulTAllReduceAddRmsNorm(x, w, residual, norm, normed, e);
        } catch (RuntimeException ex) {
            brokenOrdered = "failed in all-reduce #" + call + " on rank " + rank + ": " + ex.getMessage();
            throw new CohortException("rank " + rank + ": all-reduce #" + call + " failed: " + ex.getMessage(), ex);
        }
        if (taken) {
            enqueued.set(rank, call);
            if (rank == 0) {
                enqueueNanos.addAndGet(System.nanoTime() - start);
                inKernels++;
            }
        }
        return taken;
    }

    /** Enqueues one stream-ordered collective of rank {@code rank} ({@code part}), ordered around its compute. */
    private void enqueue(int rank, Tensor tensor, Runnable part) {
        long call = enqueued.get(rank) + 1;
        String why = brokenOrdered;
        if (why != null) {
            throw new CohortException("rank " + rank + ": all-reduce #" + call + " abandoned: group " + why);
        }
        long start = System.nanoTime();
        TensorOps o = ops[rank];
        DeviceStream stream = ordered.stream(rank);
        try {
            o.orderBefore(stream);
            part.run();
            o.orderAfter(stream);
        } catch (RuntimeException e) {
            brokenOrdered = "failed in all-reduce #" + call + " on rank " + rank + ": " + e.getMessage();
            throw new CohortException("rank " + rank + ": all-reduce #" + call + " failed: " + e.getMessage(), e);
        }
        enqueued.set(rank, call);
        if (rank == 0) {
            enqueueNanos.addAndGet(System.nanoTime() - start);
        }
    }

    private void breakLocked(String why) {
        if (broken == null) {
            broken = why;
        }
        tripped.signalAll();
    }

    private void arrive(int rank, Tensor tensor) {
        if (ordered != null) {
            enqueue(rank, tensor);
            return;
        }
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
