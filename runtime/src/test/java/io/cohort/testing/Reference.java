package io.cohort.testing;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;

/**
 * Independent reference implementations of every collective, in plain Java on float[] (one array per
 * rank, values already representable in the dtype). Reductions are computed in double over all ranks in
 * rank order and rounded to the dtype once at the end, so the reference has no intermediate rounding; plans
 * round after every pairwise step, which is what {@link #tolerance} bounds.
 */
public final class Reference {
    private Reference() {
    }

    /** Expected recv of every rank for {@code collective} (count per rank as in {@link Collective}). */
    public static float[][] expected(Collective collective, DType dtype, ReduceOp op, int root, float[][] send) {
        int n = send.length;
        float[][] out = new float[n][];
        switch (collective) {
            case ALL_REDUCE -> {
                float[] all = reduce(dtype, op, send, 0, send[0].length);
                for (int r = 0; r < n; r++) {
                    out[r] = all.clone();
                }
            }
            case REDUCE -> out[root] = reduce(dtype, op, send, 0, send[0].length);
            case BROADCAST -> {
                for (int r = 0; r < n; r++) {
                    out[r] = send[root].clone();
                }
            }
            case REDUCE_SCATTER -> {
                int count = send[0].length / n;
                for (int r = 0; r < n; r++) {
                    out[r] = reduce(dtype, op, send, (long) r * count, count);
                }
            }
            case ALL_GATHER -> {
                int count = send[0].length;
                float[] all = new float[count * n];
                for (int r = 0; r < n; r++) {
                    System.arraycopy(send[r], 0, all, r * count, count);
                }
                for (int r = 0; r < n; r++) {
                    out[r] = all.clone();
                }
            }
        }
        return out;
    }

    /** op over ranks of elements [from, from + count), exact in double, rounded once to dtype. */
    public static float[] reduce(DType dtype, ReduceOp op, float[][] send, long from, int count) {
        float[] out = new float[count];
        int n = send.length;
        for (int i = 0; i < count; i++) {
            int at = (int) (from + i);
            double acc = send[0][at];
            for (int r = 1; r < n; r++) {
                double x = send[r][at];
                acc = switch (op) {
                    case SUM, AVG -> acc + x;
                    case MAX -> Math.max(acc, x);
                    case MIN -> Math.min(acc, x);
                };
            }
            if (op == ReduceOp.AVG) {
                acc /= n;
            }
            out[i] = dtype.round((float) acc);
        }
        return out;
    }

    /** Σ_r |send[r][at]|: the scale of the rounding error of a reduced element. */
    public static double absSum(float[][] send, long at) {
        double s = 0;
        for (float[] x : send) {
            s += Math.abs(x[(int) at]);
        }
        return s;
    }

    /**
     * Largest |plan result - reference| allowed for one reduced element whose inputs have Σ|x| = absSum.
     *
     * <p>Derivation. A plan combines the n inputs with n-1 pairwise operations in some order (ring chain,
     * tree), rounding to the dtype after each. For SUM, the classic bound for any such summation order is
     * |ŝ - s| <= γ(n-1) Σ|x| with γ(k) = k u / (1 - k u) and u the dtype's unit roundoff (f32 2^-24,
     * f16 2^-11, bf16 2^-8). The reference rounds the exact sum once: |r - s| <= u |s| <= u Σ|x|. So
     * |ŝ - r| <= (γ(n-1) + u) Σ|x|. AVG divides by n afterwards: the plan multiplies by float(1/n) (relative
     * error 2^-24) and rounds (u), the reference divides exactly, adding (u + 2^-24) Σ|x| / n to the bound of
     * the scaled sum. f16 also has gradual underflow: each rounding in the subnormal range may be off by half
     * its spacing (2^-25) in absolute terms, hence n * 2^-24 more. MAX and MIN round nothing: they must be
     * exact (tolerance 0).
     */
    public static double tolerance(DType dtype, ReduceOp op, int n, double absSum) {
        if (op == ReduceOp.MAX || op == ReduceOp.MIN || n == 1 && op != ReduceOp.AVG) {
            return 0;
        }
        double u = dtype.unitRoundoff();
        double k = n - 1;
        double gamma = k * u / (1 - k * u);
        double bound = (gamma + u) * absSum;
        if (op == ReduceOp.AVG) {
            bound = bound / n + (u + 0x1p-24) * absSum / n;
        }
        if (dtype != DType.F32) {
            bound += 0x1p-24 * absSum; // the reference rounds double -> float -> half: one more float rounding
        }
        double underflow = dtype == DType.F16 ? n * 0x1p-24 : n * Float.MIN_VALUE;
        return bound + underflow;
    }
}
