package io.cohort.bench;

import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code cohort bench} measures: every collective x dtype x op x size x backend x algorithm. Sizes go
 * from {@code minBytes} to {@code maxBytes}, times {@code factor} each step; a size is what nccl-tests calls it
 * (all-gather / reduce-scatter: the full buffer of n blocks).
 *
 * @param algorithms "auto" or an algorithm name (the group's {@code algorithm.force})
 * @param ops        reduce ops of the reducing collectives (the others run once per dtype)
 * @param warmup     how long each case warms up before anything is measured
 * @param latency    how many calls, one at a time, give the host path and round trip percentiles
 */
public record BenchSpec(List<BackendKind> backends, List<Collective> collectives, List<String> algorithms,
                        List<DType> dtypes, List<ReduceOp> ops, int root, long minBytes, long maxBytes, int factor,
                        int iters, Budget warmup, Budget latency) {

    /**
     * Calls made one at a time until {@code calls} are done or {@code time} has passed, at least 3: thousands of
     * calls for small messages (enough for the JIT to compile the path), a bounded time for large ones.
     */
    public record Budget(int calls, Duration time) {
        public Budget {
            if (calls < 0 || time.isNegative()) {
                throw new IllegalArgumentException("need a call count >= 0 and a time >= 0, got " + calls + ", " + time);
            }
        }

        /** Whether the {@code done}-th call (0-based) should run, {@code elapsedNanos} after the first. */
        public boolean more(int done, long elapsedNanos) {
            return done < 3 || (done < calls && elapsedNanos < time.toNanos());
        }
    }

    public BenchSpec {
        backends = List.copyOf(backends);
        collectives = List.copyOf(collectives);
        algorithms = List.copyOf(algorithms);
        dtypes = List.copyOf(dtypes);
        ops = List.copyOf(ops);
        if (backends.isEmpty() || collectives.isEmpty() || algorithms.isEmpty() || dtypes.isEmpty() || ops.isEmpty()) {
            throw new IllegalArgumentException("need at least one backend, collective, algorithm, dtype and op");
        }
        if (minBytes < 1 || maxBytes < minBytes) {
            throw new IllegalArgumentException("bad size range " + minBytes + ".." + maxBytes);
        }
        if (factor < 2) {
            throw new IllegalArgumentException("size factor must be at least 2, got " + factor);
        }
        if (iters < 1) {
            throw new IllegalArgumentException("need --iters >= 1, got " + iters);
        }
        if (root < 0) {
            throw new IllegalArgumentException("--root must be a rank (>= 0), got " + root);
        }
    }

    /** Refuses a root that is not a rank of a group of {@code ranks}. */
    public void checkRanks(int ranks) {
        if (root >= ranks) {
            throw new IllegalArgumentException("--root " + root + " is not a rank of the " + ranks + " devices (0.."
                    + (ranks - 1) + ")");
        }
    }

    /** The sizes measured, in bytes. */
    public List<Long> sizes() {
        List<Long> sizes = new ArrayList<>();
        for (long s = minBytes; s <= maxBytes; s = Math.multiplyExact(s, factor)) {
            sizes.add(s);
            if (s > Long.MAX_VALUE / factor) {
                break;
            }
        }
        return sizes;
    }

    /** The ops {@code c} runs with: every op of the spec if it reduces, else one (unused) op. */
    public List<ReduceOp> opsOf(Collective c) {
        return c.reduces() ? ops : List.of(ReduceOp.SUM);
    }
}
