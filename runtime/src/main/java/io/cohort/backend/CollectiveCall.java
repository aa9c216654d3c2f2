package io.cohort.backend;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;

/** A collective as every rank states it (no buffers): ranks of one call must state the same. */
public record CollectiveCall(Collective collective, DType dtype, ReduceOp op, long count, int root) {
    public CollectiveCall {
        if (count < 0) {
            throw new IllegalArgumentException("negative count " + count);
        }
        if (root < 0) {
            throw new IllegalArgumentException("negative root " + root);
        }
    }

    public static CollectiveCall allReduce(DType dtype, ReduceOp op, long count) {
        return new CollectiveCall(Collective.ALL_REDUCE, dtype, op, count, 0);
    }

    public long sendBytes(int ranks) {
        return collective.sendCount(count, ranks) * dtype.bytes();
    }

    public long recvBytes(int ranks) {
        return collective.recvCount(count, ranks) * dtype.bytes();
    }
}
