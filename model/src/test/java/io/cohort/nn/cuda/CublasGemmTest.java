package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.device.DeviceBuffer;
import io.cohort.nn.Matrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * cuBLAS GEMM against a double-precision reference on the host, for every supported dtype pair. Bound per
 * output: k·u_acc·Σ|a·w| for f32 accumulation (u_acc = 2^-24; cuBLAS may use FMA or split-k orders, the bound
 * covers any order), plus one rounding to the output dtype. Inputs are exact in their dtype (rounded on the host
 * before upload, the reference reads the rounded values). With f32 inputs cuBLAS may not use TF32 (we ask for
 * CUBLAS_COMPUTE_32F, not _FAST_TF32), so the f32 bound is the plain f32 one.
 */
@Tag("gpu")
class CublasGemmTest {

    @ParameterizedTest
    @CsvSource({"F32, F32, 1, 1, 1", "F32, F32, 7, 13, 33", "BF16, F32, 5, 64, 96", "BF16, BF16, 16, 48, 128",
            "F16, F32, 3, 40, 200", "F16, F16, 64, 64, 64", "F32, F32, 129, 257, 65"})
    void matchesDoubleReference(String inName, String outName, int m, int n, int k) throws Throwable {
        assumeTrue(CublasLibrary.isAvailable() && MiniCuda.available(), "needs a GPU and " + CublasLibrary.SONAME);
        DType in = DType.valueOf(inName), out = DType.valueOf(outName);
        Random rnd = new Random(31L * m + 7L * n + k);
        float[] a = random(rnd, m * k, in), w = random(rnd, n * k, in);
        try (MiniCuda cuda = new MiniCuda(); CublasGemm gemm = new CublasGemm(cuda); Arena arena = Arena.ofConfined()) {
            DeviceBuffer da = upload(cuda, arena, a, in), dw = upload(cuda, arena, w, in);
            DeviceBuffer dc = cuda.allocate((long) m * n * out.bytes());
            gemm.matmulT(new Matrix(da, in, m, k), new Matrix(dw, in, n, k), new Matrix(dc, out, m, n));
            assertMatchesReference(cuda, arena, dc, out, a, w, m, n, k, "");
            for (DeviceBuffer b : new DeviceBuffer[] {da, dw, dc}) {
                cuda.free(b);
            }
        }
    }

    @Test
    void mixedInputDtypesAreRejectedBeforeCallingCublas() throws Throwable {
        assumeTrue(CublasLibrary.isAvailable() && MiniCuda.available(), "needs a GPU and " + CublasLibrary.SONAME);
        try (MiniCuda cuda = new MiniCuda(); CublasGemm gemm = new CublasGemm(cuda)) {
            assertTrue(gemm.version() >= 130000, "cuBLAS " + gemm.version());
            DeviceBuffer b = cuda.allocate(1024);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gemm.matmulT(
                    new Matrix(b, DType.F32, 2, 4), new Matrix(b, DType.BF16, 2, 4), new Matrix(b, DType.F32, 2, 2)));
            assertTrue(e.getMessage().contains("one dtype"), e.getMessage());
            cuda.free(b);
        }
    }

    /** out (downloaded from dc) against the double-precision product of a and wᵀ, within the bound above. */
    static void assertMatchesReference(MiniCuda cuda, Arena arena, DeviceBuffer dc, DType out, float[] a, float[] w,
                                       int m, int n, int k, String what) throws Throwable {
        MemorySegment host = arena.allocate((long) m * n * out.bytes());
        cuda.download(dc, host);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double exact = 0, magnitude = 0;
                for (int p = 0; p < k; p++) {
                    double prod = (double) a[i * k + p] * w[j * k + p];
                    exact += prod;
                    magnitude += Math.abs(prod);
                }
                double bound = k * 0x1p-24 * magnitude + out.unitRoundoff() * Math.abs(exact) * 1.01 + 1e-30;
                assertEquals(exact, out.get(host, (long) i * n + j), bound, what + "out[" + i + "][" + j + "]");
            }
        }
    }

    static float[] random(Random rnd, int n, DType dtype) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = dtype.round((float) rnd.nextGaussian());
        }
        return v;
    }

    static DeviceBuffer upload(MiniCuda cuda, Arena arena, float[] values, DType dtype) throws Throwable {
        MemorySegment host = arena.allocate((long) values.length * dtype.bytes());
        for (int i = 0; i < values.length; i++) {
            dtype.set(host, i, values[i]);
        }
        DeviceBuffer d = cuda.allocate(host.byteSize());
        cuda.upload(host, d);
        return d;
    }
}
