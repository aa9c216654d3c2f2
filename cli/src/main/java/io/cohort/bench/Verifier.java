package io.cohort.bench;

import io.cohort.backend.CollectiveCall;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Fills inputs with a pattern and checks outputs against a reference computed on the host in double.
 * Inputs are small integers (-4..4), so sums over up to 8 ranks are exact in every dtype (as in
 * nccl-tests); AVG divides, so results are compared within a few units of roundoff of the dtype.
 */
public final class Verifier {
    /** Written to recv buffers before a checked run, so stale results cannot pass. */
    static final float POISON = 99f;

    private Verifier() {
    }

    /** Input element {@code i} of rank {@code rank}. */
    public static float input(int rank, long i) {
        return (float) (Math.floorMod(rank * 7L + i * 3L, 9L) - 4);
    }

    /** Writes the pattern to each rank's send tensor ({@code count} elements) and poison to each recv. */
    public static void prepare(TensorIo io, DType dtype, List<Tensor> send, long sendCount, List<Tensor> recv,
                               long recvCount) {
        for (int r = 0; r < send.size(); r++) {
            MemorySegment data = io.scratch(sendCount * dtype.bytes());
            for (long i = 0; i < sendCount; i++) {
                dtype.set(data, i, input(r, i));
            }
            io.write(send.get(r), data);
            if (recv.get(r) != send.get(r)) {
                MemorySegment poison = io.scratch(recvCount * dtype.bytes());
                for (long i = 0; i < recvCount; i++) {
                    dtype.set(poison, i, POISON);
                }
                io.write(recv.get(r), poison);
            }
        }
    }

    /** Elements of the recv tensors that differ from the reference (ranks that receive nothing are skipped). */
    public static long countWrong(TensorIo io, CollectiveCall call, List<Tensor> recv) {
        int n = recv.size();
        DType dtype = call.dtype();
        long count = call.count();
        long recvCount = call.collective().recvCount(count, n);
        double tolerance = 4 * dtype.unitRoundoff();
        long wrong = 0;
        for (int r = 0; r < n; r++) {
            if (call.collective() == Collective.REDUCE && r != call.root()) {
                continue;
            }
            MemorySegment got = io.read(recv.get(r), recvCount * dtype.bytes());
            for (long i = 0; i < recvCount; i++) {
                double expected = expected(call, n, r, i);
                double actual = dtype.get(got, i);
                if (!(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)))) {
                    wrong++;
                }
            }
        }
        return wrong;
    }

    /** Reference value of element {@code i} of rank {@code rank}'s recv buffer. */
    static double expected(CollectiveCall call, int n, int rank, long i) {
        long count = call.count();
        return switch (call.collective()) {
            case ALL_REDUCE, REDUCE -> reduce(call.op(), n, i);
            case REDUCE_SCATTER -> reduce(call.op(), n, rank * count + i);
            case BROADCAST -> input(call.root(), i);
            case ALL_GATHER -> input((int) (i / count), i % count);
        };
    }

    private static double reduce(ReduceOp op, int n, long i) {
        double acc = input(0, i);
        for (int q = 1; q < n; q++) {
            double v = input(q, i);
            acc = switch (op) {
                case SUM, AVG -> acc + v;
                case MAX -> Math.max(acc, v);
                case MIN -> Math.min(acc, v);
            };
        }
        return op == ReduceOp.AVG ? acc / n : acc;
    }
}
