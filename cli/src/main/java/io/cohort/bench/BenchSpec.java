package io.cohort.bench;

import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.util.List;

/**
 * What {@code cohort bench} measures: every collective x size x backend x algorithm. Sizes go from
 * {@code minBytes} to {@code maxBytes}, times {@code factor} each step; a size is what nccl-tests calls it
 * (all-gather / reduce-scatter: the full buffer of n blocks).
 *
 * @param algorithms "auto" or an algorithm name (the group's {@code algorithm.force})
 */
public record BenchSpec(List<BackendKind> backends, List<Collective> collectives, List<String> algorithms, DType dtype,
                        ReduceOp op, int root, long minBytes, long maxBytes, int factor, int iters, int warmup) {
    public BenchSpec {
        backends = List.copyOf(backends);
        collectives = List.copyOf(collectives);
        algorithms = List.copyOf(algorithms);
        if (backends.isEmpty() || collectives.isEmpty() || algorithms.isEmpty()) {
            throw new IllegalArgumentException("need at least one backend, collective and algorithm");
        }
        if (minBytes < 1 || maxBytes < minBytes) {
            throw new IllegalArgumentException("bad size range " + minBytes + ".." + maxBytes);
        }
        if (factor < 2) {
            throw new IllegalArgumentException("size factor must be at least 2, got " + factor);
        }
        if (iters < 1 || warmup < 0) {
            throw new IllegalArgumentException("need iters >= 1 and warmup >= 0");
        }
    }

    /** The sizes measured, in bytes. */
    public List<Long> sizes() {
        List<Long> sizes = new java.util.ArrayList<>();
        for (long s = minBytes; s <= maxBytes; s = Math.multiplyExact(s, factor)) {
            sizes.add(s);
            if (s > Long.MAX_VALUE / factor) {
                break;
            }
        }
        return sizes;
    }
}
