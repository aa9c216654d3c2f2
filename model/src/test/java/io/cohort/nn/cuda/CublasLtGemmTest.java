package io.cohort.nn.cuda;

import static io.cohort.nn.cuda.CublasGemmTest.assertMatchesReference;
import static io.cohort.nn.cuda.CublasGemmTest.random;
import static io.cohort.nn.cuda.CublasGemmTest.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.device.DeviceBuffer;
import io.cohort.nn.Matrix;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every algorithm cuBLASLt's heuristic lists for a shape computes the product within CublasGemmTest's bound
 * (f32 accumulation in any order, one rounding to the output type), workspace-using ones (split-K) included.
 */
@Tag("gpu")
class CublasLtGemmTest {
    private static final long WORKSPACE = 32L << 20;

    @ParameterizedTest
    @CsvSource({"BF16, F32, 1, 256, 512", "BF16, F32, 4, 384, 1024", "BF16, F32, 16, 128, 4096",
            "F16, F32, 2, 96, 256", "BF16, BF16, 8, 64, 128"})
    void everyListedAlgorithmMatchesTheDoubleReference(String inName, String outName, int m, int n, int k)
            throws Throwable {
        assumeTrue(CublasLtLibrary.isAvailable() && MiniCuda.available(), "needs a GPU and " + CublasLtLibrary.SONAME);
        DType in = DType.valueOf(inName), out = DType.valueOf(outName);
        Random rnd = new Random(17L * m + 5L * n + k);
        float[] a = random(rnd, m * k, in), w = random(rnd, n * k, in);
        try (MiniCuda cuda = new MiniCuda(); Arena arena = Arena.ofConfined()) {
            DeviceBuffer ws = cuda.allocate(WORKSPACE);
            DeviceBuffer da = upload(cuda, arena, a, in), dw = upload(cuda, arena, w, in);
            DeviceBuffer dc = cuda.allocate((long) m * n * out.bytes());
            Matrix ma = new Matrix(da, in, m, k), mw = new Matrix(dw, in, n, k), mc = new Matrix(dc, out, m, n);
            try (CublasLtGemm lt = new CublasLtGemm(cuda, ws.address(), WORKSPACE)) {
                int algorithms = lt.algorithms(ma, mw, mc);
                assertTrue(algorithms >= 1 && algorithms <= CublasLtGemm.MAX_ALGORITHMS, algorithms + " algorithms");
                assertEquals(algorithms, lt.algorithms(ma, mw, mc), "the list is kept per shape");
                for (int i = 0; i < algorithms; i++) {
                    lt.matmulT(ma, mw, mc, i);
                    assertMatchesReference(cuda, arena, dc, out, a, w, m, n, k,
                            "algorithm " + i + " (" + lt.describe(ma, mw, mc, i) + "): ");
                }
            }
            for (DeviceBuffer b : new DeviceBuffer[] {ws, da, dw, dc}) {
                cuda.free(b);
            }
        }
    }

    @Test
    void anAlgorithmPastTheListAndMixedInputTypesAreRejectedInOneLine() throws Throwable {
        assumeTrue(CublasLtLibrary.isAvailable() && MiniCuda.available(), "needs a GPU and " + CublasLtLibrary.SONAME);
        try (MiniCuda cuda = new MiniCuda()) {
            DeviceBuffer ws = cuda.allocate(WORKSPACE), b = cuda.allocate(1 << 16);
            try (CublasLtGemm lt = new CublasLtGemm(cuda, ws.address(), WORKSPACE)) {
                Matrix a = new Matrix(b, DType.BF16, 2, 64), w = new Matrix(b, DType.BF16, 32, 64);
                Matrix c = new Matrix(b, DType.F32, 2, 32);
                int n = lt.algorithms(a, w, c);
                IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
                        () -> lt.matmulT(a, w, c, n));
                assertEquals("cuBLASLt lists " + n + " algorithms for 2x32x64 BF16, not algorithm " + n,
                        past.getMessage());
                IllegalArgumentException mixed = assertThrows(IllegalArgumentException.class,
                        () -> lt.matmulT(new Matrix(b, DType.F32, 2, 64), w, c, 0));
                assertTrue(mixed.getMessage().contains("one dtype"), mixed.getMessage());
            }
            cuda.free(ws);
            cuda.free(b);
        }
    }
}
