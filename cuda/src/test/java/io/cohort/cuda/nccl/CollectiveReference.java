package io.cohort.cuda.nccl;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;

/** Inputs and closed-form expected outputs of the collectives, independent of any implementation. */
final class CollectiveReference {

    /** What a receive buffer holds before the collective (reduce leaves it so on non-roots). */
    static final float UNTOUCHED = -99;

    private CollectiveReference() {
    }

    /** Element i of rank r's send buffer: small integers, exact in every dtype and in every sum of a few. */
    static float input(int r, long i) {
        return (r + 1) * (i % 3 == 0 ? -1 : 1) + i % 7;
    }

    /** Element i of rank {@code rank}'s receive buffer after the collective. */
    static float expected(Collective c, ReduceOp op, DType t, int ranks, int root, int rank, long i, long count) {
        return switch (c) {
            case ALL_REDUCE -> reduced(op, t, ranks, i);
            case REDUCE -> rank == root ? reduced(op, t, ranks, i) : UNTOUCHED;
            case BROADCAST -> input(root, i);
            case REDUCE_SCATTER -> reduced(op, t, ranks, rank * count + i);
            case ALL_GATHER -> input((int) (i / count), i % count);
        };
    }

    private static float reduced(ReduceOp op, DType t, int ranks, long i) {
        float acc = input(0, i);
        for (int r = 1; r < ranks; r++) {
            acc = op.combine(acc, input(r, i));
        }
        return op == ReduceOp.AVG ? t.round(acc / ranks) : acc;
    }
}
