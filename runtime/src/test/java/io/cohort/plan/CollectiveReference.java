package io.cohort.plan;

import io.cohort.core.Collective;
import io.cohort.core.ReduceOp;

/**
 * The expected result of each collective, computed directly in double from every rank's send: independent of
 * any planner. {@code expected[r]} is rank r's recv (length 0 where the collective writes none).
 */
final class CollectiveReference {

    private CollectiveReference() {
    }

    static double[][] expected(Collective c, ReduceOp op, float[][] send, long count, int root) {
        int n = send.length;
        int k = (int) count;
        double[][] out = new double[n][];
        for (int r = 0; r < n; r++) {
            switch (c) {
                case ALL_REDUCE -> out[r] = combine(op, send, 0, k);
                case REDUCE -> out[r] = r == root ? combine(op, send, 0, k) : new double[0];
                case BROADCAST -> {
                    out[r] = new double[k];
                    for (int i = 0; i < k; i++) {
                        out[r][i] = send[root][i];
                    }
                }
                case REDUCE_SCATTER -> out[r] = combine(op, send, r * k, k);
                case ALL_GATHER -> {
                    out[r] = new double[n * k];
                    for (int p = 0; p < n; p++) {
                        for (int i = 0; i < k; i++) {
                            out[r][p * k + i] = send[p][i];
                        }
                    }
                }
            }
        }
        return out;
    }

    private static double[] combine(ReduceOp op, float[][] send, int offset, int k) {
        int n = send.length;
        double[] out = new double[k];
        for (int i = 0; i < k; i++) {
            double acc = send[0][offset + i];
            for (int p = 1; p < n; p++) {
                double v = send[p][offset + i];
                acc = switch (op) {
                    case SUM, AVG -> acc + v;
                    case MAX -> Math.max(acc, v);
                    case MIN -> Math.min(acc, v);
                };
            }
            out[i] = op == ReduceOp.AVG ? acc / n : acc;
        }
        return out;
    }
}
