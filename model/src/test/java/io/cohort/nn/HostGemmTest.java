package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cohort.core.DType;
import io.cohort.nn.host.HostTensorOps;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import io.cohort.device.host.HostDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Host GEMM against a double-precision triple loop over the same (rounded) inputs, through both paths (packed
 * panels, and weights streamed in place when a has fewer than 4 rows) and odd sizes (vector tails, partial panels). Bound: f32 accumulation of k
 * products errs by at most k·u·Σ|a·w| (u = 2^-24), plus one rounding of the output to its dtype.
 */
class HostGemmTest {
    private final HostDevice device = HostDevice.open(0);

    @AfterEach
    void closeDevice() {
        device.close();
    }


    @ParameterizedTest
    @CsvSource({
            "F32, F32, F32, 1, 1, 1, 1", "F32, F32, F32, 5, 7, 13, 1", "F32, BF16, F32, 2, 8, 64, 1",
            "F32, F16, F32, 3, 9, 70, 2", "BF16, BF16, BF16, 4, 12, 33, 3", "F16, F16, F32, 1, 30, 129, 2",
            "F32, BF16, F32, 17, 33, 100, 4", "BF16, F32, F16, 6, 5, 3, 1",
            "F32, BF16, BF16, 3, 9, 70, 2", "F32, F32, F32, 1, 130, 17, 3"})
    void matchesDoubleReference(String at, String wt, String ot, int m, int n, int k, int threads) {
        DType a = DType.valueOf(at), w = DType.valueOf(wt), o = DType.valueOf(ot);
        Random rnd = new Random(m * 1000L + n * 10L + k);
        try (HostTensorOps ops = new HostTensorOps(device, threads)) {
            Matrix ma = fill(ops.allocate(a, m, k), rnd);
            Matrix mw = fill(ops.allocate(w, n, k), rnd);
            Matrix mo = ops.allocate(o, m, n);
            ops.matmulT(ma, mw, mo);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double exact = 0, magnitude = 0;
                    for (int p = 0; p < k; p++) {
                        double prod = (double) get(ma, i, p) * get(mw, j, p);
                        exact += prod;
                        magnitude += Math.abs(prod);
                    }
                    double bound = k * 0x1p-24 * magnitude + o.unitRoundoff() * Math.abs(exact) * 1.01 + 1e-30;
                    assertEquals(exact, get(mo, i, j), bound, "out[" + i + "][" + j + "]");
                }
            }
        }
    }

    @Test
    void mismatchedShapesAreRejected() {
        try (HostTensorOps ops = new HostTensorOps(device, 1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ops.matmulT(ops.allocate(DType.F32, 2, 3), ops.allocate(DType.F32, 4, 5), ops.allocate(DType.F32, 2, 4)));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("need w 4x3"), e.getMessage());
        }
    }

    private static Matrix fill(Matrix m, Random rnd) {
        for (long i = 0; i < m.elements(); i++) {
            m.dtype().set(m.buffer().segment(), i, (float) rnd.nextGaussian());
        }
        return m;
    }

    private static float get(Matrix m, int r, int c) {
        return m.dtype().get(m.buffer().segment(), (long) r * m.cols() + c);
    }
}
