package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.core.DType;
import io.cohort.device.host.HostDevice;
import io.cohort.nn.host.HostTensorOps;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Host attention (the vectorized f32 path and the generic path for other dtypes) against a double-precision
 * causal softmax attention with grouped KV heads, on the same (rounded) inputs. Bound: scores and the weighted
 * sum are f32 dot products of length headDim and position count (≤ 24 here) over O(1) values: 1e-5 absolute,
 * plus the output dtype's rounding.
 */
class HostAttentionTest {
    private final HostDevice device = HostDevice.open(0);
    private final HostTensorOps ops = new HostTensorOps(device, 1);

    @AfterEach
    void close() {
        ops.close();
        device.close();
    }

    @ParameterizedTest
    @CsvSource({"F32, 4, 2, 16, 0, 5", "F32, 4, 4, 20, 7, 3", "F32, 8, 1, 13, 10, 1", "BF16, 4, 2, 16, 3, 4",
            "F16, 2, 1, 8, 0, 6"})
    void matchesDoubleReference(String dtypeName, int heads, int kvHeads, int headDim, int startPos, int rows) {
        DType dt = DType.valueOf(dtypeName);
        Random rnd = new Random(heads * 100 + headDim);
        int span = startPos + rows;
        Matrix q = fill(ops.allocate(dt, rows, heads * headDim), rnd);
        Matrix k = fill(ops.allocate(dt, 24, kvHeads * headDim), rnd);
        Matrix v = fill(ops.allocate(dt, 24, kvHeads * headDim), rnd);
        Matrix out = ops.allocate(dt, rows, heads * headDim);
        ops.attention(q, k, v, heads, kvHeads, headDim, startPos, out);
        for (int t = 0; t < rows; t++) {
            for (int h = 0; h < heads; h++) {
                int g = h / (heads / kvHeads);
                int last = startPos + t;
                double[] w = new double[last + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int p = 0; p <= last; p++) {
                    for (int i = 0; i < headDim; i++) {
                        w[p] += get(q, t, h * headDim + i) * get(k, p, g * headDim + i);
                    }
                    w[p] /= Math.sqrt(headDim);
                    max = Math.max(max, w[p]);
                }
                for (int p = 0; p <= last; p++) {
                    w[p] = Math.exp(w[p] - max);
                    sum += w[p];
                }
                for (int i = 0; i < headDim; i++) {
                    double expected = 0;
                    for (int p = 0; p <= last; p++) {
                        expected += w[p] / sum * get(v, p, g * headDim + i);
                    }
                    assertEquals(expected, get(out, t, h * headDim + i), 1e-5 + dt.unitRoundoff() * Math.abs(expected) * 1.01,
                            "row " + t + " head " + h + " dim " + i + " (span " + span + ")");
                }
            }
        }
    }

    private static Matrix fill(Matrix m, Random rnd) {
        for (long i = 0; i < m.elements(); i++) {
            m.dtype().set(m.buffer().segment(), i, (float) rnd.nextGaussian());
        }
        return m;
    }

    private static double get(Matrix m, int r, int c) {
        return m.dtype().get(m.buffer().segment(), (long) r * m.cols() + c);
    }
}
