package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cohort.core.DType;
import io.cohort.device.host.HostDevice;
import io.cohort.nn.host.HostTensorOps;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The fused ops' math on the host against references written here: SwiGLU over a fused gate|up output against a
 * double-precision silu(g)·u of the two halves, and residual add + RMSNorm against a double-precision
 * x + d then x / sqrt(mean(x²) + eps) · w. Bounds: one f32 rounding per operation on O(1) values, a few ulp
 * (2e-6 relative); the norm's mean over 96 terms adds sqrt(96)·2^-24: 1e-5.
 */
class FusedOpsTest {
    private final HostDevice device = HostDevice.open(0);
    private final HostTensorOps ops = new HostTensorOps(device, 1);

    @AfterEach
    void close() {
        ops.close();
        device.close();
    }

    private Matrix random(int rows, int cols, Random rnd) {
        Matrix m = ops.allocate(DType.F32, rows, cols);
        for (long i = 0; i < m.elements(); i++) {
            DType.F32.set(m.buffer().segment(), i, (float) rnd.nextGaussian());
        }
        return m;
    }

    private static float get(Matrix m, int r, int c) {
        return DType.F32.get(m.buffer().segment(), (long) r * m.cols() + c);
    }

    @Test
    void siluMulPackedIsSiluOfTheGateHalfTimesTheUpHalf() {
        Random rnd = new Random(3);
        int t = 3, f = 40;
        Matrix gu = random(t, 2 * f, rnd), out = ops.allocate(DType.F32, t, f);
        ops.siluMulPacked(gu, out);
        for (int r = 0; r < t; r++) {
            for (int i = 0; i < f; i++) {
                double g = get(gu, r, i), u = get(gu, r, f + i);
                double expected = g / (1 + Math.exp(-g)) * u;
                assertEquals(expected, get(out, r, i), 2e-6 * Math.max(1, Math.abs(expected)), "row " + r + " col " + i);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> ops.siluMulPacked(gu, ops.allocate(DType.F32, t, f + 1)));
    }

    @Test
    void addRmsNormAddsIntoTheResidualThenNormalizes() {
        Random rnd = new Random(4);
        int t = 4, h = 96;
        Matrix x = random(t, h, rnd), d = random(t, h, rnd), w = random(1, h, rnd), out = ops.allocate(DType.F32, t, h);
        double[][] sum = new double[t][h];
        for (int r = 0; r < t; r++) {
            for (int c = 0; c < h; c++) {
                sum[r][c] = (double) get(x, r, c) + get(d, r, c);
            }
        }
        ops.addRmsNorm(x, d, w, 1e-5f, out);
        for (int r = 0; r < t; r++) {
            double ss = 0;
            for (int c = 0; c < h; c++) {
                ss += sum[r][c] * sum[r][c];
            }
            double inv = 1 / Math.sqrt(ss / h + 1e-5);
            for (int c = 0; c < h; c++) {
                assertEquals(sum[r][c], get(x, r, c), 1e-6 * Math.max(1, Math.abs(sum[r][c])), "residual " + r + "," + c);
                double expected = sum[r][c] * inv * get(w, 0, c);
                assertEquals(expected, get(out, r, c), 1e-5 * Math.max(1, Math.abs(expected)), "normed " + r + "," + c);
            }
        }
    }

    /**
     * Rotary + KV write against rotate-half computed here in double from the angles {@code p·theta^(-2i/d)}:
     * q rotated in place, the K cache holds the rotated k and the V cache v at positions start.., other cache
     * rows untouched. Bound: the table's f32 cos/sin (u each) and one rounding per product: 2e-6 scaled.
     */
    @Test
    void rotaryKvWriteRotatesQueriesAndStoresRotatedKeysAndValues() {
        Random rnd = new Random(5);
        int t = 3, heads = 4, kvHeads = 2, d = 8, start = 5, capacity = 12;
        double theta = 10000.0;
        Matrix q = random(t, heads * d, rnd), k = random(t, kvHeads * d, rnd), v = random(t, kvHeads * d, rnd);
        Matrix kc = random(capacity, kvHeads * d, rnd), vc = random(capacity, kvHeads * d, rnd);
        float[][] q0 = snapshot(q), k0 = snapshot(k), v0 = snapshot(v), kc0 = snapshot(kc), vc0 = snapshot(vc);
        Matrix table = RotaryTable.create(ops, capacity, d, theta);
        ops.rotaryKvWrite(q, k, v, heads, kvHeads, d, start, table, kc, vc);
        for (int r = 0; r < t; r++) {
            assertRotated(q0[r], heads, d, start + r, theta, q, r, "q");
            assertRotated(k0[r], kvHeads, d, start + r, theta, kc, start + r, "k cache");
            for (int c = 0; c < kvHeads * d; c++) {
                assertEquals(v0[r][c], get(vc, start + r, c), 0, "v cache row " + (start + r));
            }
        }
        for (int p = 0; p < capacity; p++) {
            if (p < start || p >= start + t) {
                for (int c = 0; c < kvHeads * d; c++) {
                    assertEquals(kc0[p][c], get(kc, p, c), 0, "untouched k row " + p);
                    assertEquals(vc0[p][c], get(vc, p, c), 0, "untouched v row " + p);
                }
            }
        }
    }

    private void assertRotated(float[] before, int heads, int d, int pos, double theta, Matrix after, int row, String what) {
        int half = d / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                double angle = pos * Math.pow(theta, -2.0 * i / d), cs = Math.cos(angle), sn = Math.sin(angle);
                double x1 = before[h * d + i], x2 = before[h * d + half + i];
                double e1 = x1 * cs - x2 * sn, e2 = x2 * cs + x1 * sn;
                assertEquals(e1, get(after, row, h * d + i), 2e-6 * Math.max(1, Math.abs(e1)), what + " head " + h + " " + i);
                assertEquals(e2, get(after, row, h * d + half + i), 2e-6 * Math.max(1, Math.abs(e2)),
                        what + " head " + h + " " + (half + i));
            }
        }
    }

    private static float[][] snapshot(Matrix m) {
        float[][] out = new float[m.rows()][m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            for (int c = 0; c < m.cols(); c++) {
                out[r][c] = get(m, r, c);
            }
        }
        return out;
    }

    /** rotaryAttention's default (the host's): rotaryKvWrite, then attention, bit for bit. */
    @Test
    void rotaryAttentionIsRotaryKvWriteThenAttention() {
        Random rnd = new Random(6);
        int t = 2, heads = 4, kv = 2, d = 16, start = 5, capacity = 12;
        Matrix q = random(t, heads * d, rnd), k = random(t, kv * d, rnd), v = random(t, kv * d, rnd);
        Matrix kc = random(capacity, kv * d, rnd), vc = random(capacity, kv * d, rnd);
        Matrix q2 = copy(q), k2 = copy(k), v2 = copy(v), kc2 = copy(kc), vc2 = copy(vc);
        Matrix table = RotaryTable.create(ops, capacity, d, 10000.0);
        Matrix out = ops.allocate(DType.F32, t, heads * d), out2 = ops.allocate(DType.F32, t, heads * d);
        ops.rotaryAttention(q, k, v, heads, kv, d, start, table, kc, vc, out);
        ops.rotaryKvWrite(q2, k2, v2, heads, kv, d, start, table, kc2, vc2);
        ops.attention(q2, kc2, vc2, heads, kv, d, start, out2);
        for (Matrix[] pair : new Matrix[][] {{out, out2}, {kc, kc2}, {vc, vc2}}) {
            for (long i = 0; i < pair[0].elements(); i++) {
                assertEquals(Float.floatToRawIntBits(DType.F32.get(pair[1].buffer().segment(), i)),
                        Float.floatToRawIntBits(DType.F32.get(pair[0].buffer().segment(), i)), "element " + i);
            }
        }
    }

    private Matrix copy(Matrix m) {
        Matrix c = ops.allocate(m.dtype(), m.rows(), m.cols());
        java.lang.foreign.MemorySegment.copy(m.buffer().segment(), 0, c.buffer().segment(), 0, m.byteSize());
        return c;
    }
}
