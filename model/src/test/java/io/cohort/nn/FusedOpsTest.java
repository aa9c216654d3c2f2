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
}
