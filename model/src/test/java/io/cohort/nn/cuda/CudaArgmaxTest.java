package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.cuda.CudaDevices;
import io.cohort.nn.ArgMax;
import io.cohort.nn.Matrix;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * cohort_nn_argmax (CudaTensorOps.argmax) against the host's scan (ArgMax.of) on the vocabulary sizes of the model
 * shapes and odd ones: random rows, rows whose maximum repeats (the first index wins), rows with NaN (never wins)
 * and -inf, and a row of NaN (index 0).
 */
@Tag("gpu")
class CudaArgmaxTest {
    private CudaTensorOps g;
    private TestMatrices m;

    @BeforeEach
    void open() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        g = new CudaTensorOps(CudaDevices.open(0));
        m = new TestMatrices(g);
    }

    @AfterEach
    void close() {
        if (g != null) {
            m.close();
            g.close();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 1000, 1025, 8192, 32000, 128256, 150001})
    void matchesTheHostScan(int n) {
        Random rnd = new Random(n);
        float[] x = TestMatrices.gaussian(n, rnd);
        check(x, "random");
        float[] ties = x.clone();
        float top = 10f;
        for (int k = 0; k < 5; k++) {
            ties[rnd.nextInt(n)] = top;   // the maximum several times: the first index
        }
        check(ties, "ties");
        float[] nans = x.clone();
        for (int k = 0; k < Math.max(1, n / 10); k++) {
            nans[rnd.nextInt(n)] = Float.NaN;
        }
        nans[0] = Float.NaN;
        if (n > 1) {
            nans[n - 1] = Float.NEGATIVE_INFINITY;
        }
        check(nans, "NaN and -inf");
        float[] allNan = new float[n];
        Arrays.fill(allNan, Float.NaN);
        check(allNan, "all NaN");
    }

    private void check(float[] x, String what) {
        Matrix row = m.upload(x, 1, x.length);
        long got = g.argmax(row), expected = ArgMax.of(x, 0, x.length);
        assertEquals(ArgMax.index(expected), ArgMax.index(got), what + " of " + x.length + ": index");
        assertEquals(Float.floatToRawIntBits(ArgMax.value(expected)), Float.floatToRawIntBits(ArgMax.value(got)),
                what + " of " + x.length + ": value");
    }
}
