package io.cohort.api;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.group.CollectiveResult;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

/**
 * One collective with fresh tensors of small integers (exact in f32), checked against the runtime's
 * independent {@link Reference} once its stage completes: what the concurrency tests run many of.
 */
final class CollectiveCheck {

    static final ReduceOp[] OPS = {ReduceOp.SUM, ReduceOp.MAX, ReduceOp.MIN};

    final CohortGroup group;
    final Collective collective;
    final ReduceOp op;
    final int root;
    final int count;
    final float[][] input;
    final List<Tensor> send;
    final List<Tensor> recv;
    final CompletableFuture<CollectiveResult> stage;

    /** Allocates, fills and starts a random collective on {@code group}. */
    CollectiveCheck(CohortGroup group, SplittableRandom random) {
        this.group = group;
        int n = group.size();
        this.collective = Collective.values()[random.nextInt(Collective.values().length)];
        this.op = OPS[random.nextInt(OPS.length)];
        this.root = collective.rooted() ? random.nextInt(n) : 0;
        this.count = 1 + random.nextInt(600);
        int sendCount = (int) collective.sendCount(count, n);
        int recvCount = (int) collective.recvCount(count, n);
        this.input = new float[n][];
        this.send = group.allocate(DType.F32, sendCount);
        List<Tensor> r;
        try {
            r = group.allocate(DType.F32, recvCount);
        } catch (RuntimeException e) {
            group.release(send);
            throw e;
        }
        this.recv = r;
        for (int rank = 0; rank < n; rank++) {
            input[rank] = RandomData.integers(random, sendCount, 100);
            RandomData.write(send.get(rank).buffer(), DType.F32, input[rank]);
        }
        CompletableFuture<CollectiveResult> s;
        try {
            s = switch (collective) {
                case ALL_REDUCE -> group.allReduce(send, recv, op).toCompletableFuture();
                case REDUCE -> group.reduce(send, recv, op, root).toCompletableFuture();
                case BROADCAST -> group.broadcast(send, recv, root).toCompletableFuture();
                case REDUCE_SCATTER -> group.reduceScatter(send, recv, op).toCompletableFuture();
                case ALL_GATHER -> group.allGather(send, recv).toCompletableFuture();
            };
        } catch (RuntimeException e) {
            release();
            throw e;
        }
        this.stage = s;
    }

    /** After a successful stage: every rank's recv against the reference (exact: small integers in f32). */
    void verify() {
        int n = group.size();
        float[][] expected = Reference.expected(collective, DType.F32, op, root, input);
        int recvCount = (int) collective.recvCount(count, n);
        for (int r = 0; r < n; r++) {
            if (expected[r] == null) {
                continue;
            }
            float[] got = RandomData.read(recv.get(r).buffer(), DType.F32, recvCount);
            for (int i = 0; i < recvCount; i++) {
                if (got[i] != expected[r][i]) {
                    throw new AssertionError(this + ": rank " + r + " element " + i + " is " + got[i] + ", expected "
                            + expected[r][i]);
                }
            }
        }
    }

    void release() {
        group.release(send);
        group.release(recv);
    }

    @Override
    public String toString() {
        return collective.cliName() + " " + op + " root " + root + " of " + count + " on " + group;
    }
}
