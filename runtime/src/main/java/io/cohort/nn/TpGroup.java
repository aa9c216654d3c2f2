package io.cohort.nn;

import io.cohort.core.CohortException;
import io.cohort.device.Tensor;
import java.time.Duration;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns per-rank {@link TpComm#allReduceSum} calls (SPMD, one thread per rank) into one {@link AllReduceGroup}
 * call with every rank's tensor: ranks meet at a barrier, the last to arrive runs the all-reduce, all leave
 * together. A rank that does not arrive within the timeout, or a failure on any rank ({@link #abort}), breaks
 * the barrier so that no rank waits forever.
 */
public final class TpGroup {
    private final AllReduceGroup group;
    private final Duration timeout;
    private final Tensor[] slots;
    private final CyclicBarrier barrier;
    private final AtomicLong calls = new AtomicLong();
    private final TensorOps[] ops;

    /** {@code ops[r]} is synchronized by rank r before it arrives, so the all-reduce reads finished partials. */
    public TpGroup(AllReduceGroup group, TensorOps[] ops, Duration timeout) {
        if (ops.length != group.size()) {
            throw new IllegalArgumentException(ops.length + " ranks' ops for a group of " + group.size());
        }
        this.group = group;
        this.ops = ops.clone();
        this.timeout = timeout;
        this.slots = new Tensor[group.size()];
        this.barrier = new CyclicBarrier(group.size(), () -> {
            calls.incrementAndGet();
            group.allReduceSum(slots);
        });
    }

    public int size() {
        return slots.length;
    }

    public AllReduceGroup group() {
        return group;
    }

    /** All-reduces completed so far (per group, not per rank). */
    public long allReduces() {
        return calls.get();
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

    /** Breaks the barrier: ranks waiting in an all-reduce fail at once instead of timing out. */
    public void abort() {
        barrier.reset();
    }

    private void arrive(int rank, Tensor tensor) {
        ops[rank].synchronize();
        slots[rank] = tensor;
        try {
            barrier.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new CohortException("rank " + rank + ": all-reduce #" + (calls.get() + 1) + " timed out after "
                    + timeout + " waiting for the other ranks", e);
        } catch (BrokenBarrierException e) {
            throw new CohortException("rank " + rank + ": all-reduce #" + (calls.get() + 1)
                    + " abandoned (another rank failed or timed out)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CohortException("rank " + rank + ": interrupted in all-reduce", e);
        } finally {
            slots[rank] = null;
        }
    }
}
