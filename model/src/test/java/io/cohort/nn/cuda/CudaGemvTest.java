package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.cuda.CudaDevices;
import io.cohort.nn.Matrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The decode GEMM kernels (gemv.cu through {@link CudaTensorOps#matmulT}) against a host reference: double
 * accumulation of the f32 activations times the stored (bf16/f16-rounded) weights. Both sides use the same
 * inputs exactly, so the only error is f32 accumulation in another order: bounded by 1e-5 · Σ|a·w| + 1e-6 per
 * output (k ≤ 4096 products, f32 u = 6e-8, so k·u ≈ 2.4e-4 worst case, typically sqrt(k)·u). The cuBLAS path
 * (cohort.nn.gemv off, and the shapes GEMV refuses) rounds a to the weight type first: 2u of that type · Σ|a·w|.
 */
@Tag("gpu")
class CudaGemvTest {
    private CudaTensorOps ops;
    private Arena arena;

    @BeforeEach
    void open() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        assumeTrue(CublasLibrary.isAvailable(), "needs " + CublasLibrary.SONAME);
        ops = new CudaTensorOps(CudaDevices.open(0));
        ops.gemvEverywhere(true);   // every tile, not only where it measured faster
        arena = Arena.ofConfined();
    }

    @AfterEach
    void close() {
        if (ops != null) {
            ops.close();
            arena.close();
        }
    }

    /**
     * rows (m), n, k, weight type, byte offset of a (4: misaligned, so cuBLAS). n is never a multiple of the 4
     * columns a block owns; k = 1000 ends mid-block (125 vectors); k = 1001 is not whole vectors (cuBLAS).
     */
    @ParameterizedTest
    @CsvSource({"1,1027,1024,BF16,0", "3,1027,1024,BF16,0", "8,1027,1024,BF16,0", "16,1027,1024,BF16,0",
            "1,517,4096,BF16,0", "3,517,4096,BF16,0", "8,517,4096,BF16,0", "16,517,4096,BF16,0",
            "1,45,1000,BF16,0", "3,45,1000,BF16,0", "16,45,1000,BF16,0", "5,3,8,BF16,0",
            "1,1027,1024,F16,0", "8,517,4096,F16,0", "3,45,1000,F16,0",
            "3,45,1001,BF16,0", "1,517,4096,BF16,4"})
    void matchesDoubleReference(int m, int n, int k, DType wt, int aOffset) {
        Random rnd = new Random(31L * m + n + k);
        MemorySegment a = arena.allocate(4L * m * k), w = arena.allocate((long) wt.bytes() * n * k);
        for (long i = 0; i < (long) m * k; i++) {
            DType.F32.set(a, i, (float) rnd.nextGaussian());
        }
        for (long i = 0; i < (long) n * k; i++) {
            wt.set(w, i, (float) rnd.nextGaussian());
        }
        Matrix ga = upload(a, DType.F32, m, k, aOffset), gw = upload(w, wt, n, k, 0);
        Matrix out = ops.allocate(DType.F32, m, n);
        boolean gemv = Gemv.supports(DType.F32, wt, DType.F32, m, k, ga.buffer().address(), gw.buffer().address());
        assertTrue(gemv == (aOffset == 0 && k % 8 == 0), "dispatch");
        ops.matmulT(ga, gw, out);
        check(a, w, wt, m, n, k, out, gemv ? 1e-5 : 2 * wt.unitRoundoff(), gemv ? "gemv" : "cuBLAS fallback");
        ops.useGemv(false);
        ops.matmulT(ga, gw, out);
        check(a, w, wt, m, n, k, out, 2 * wt.unitRoundoff(), "cuBLAS (cohort.nn.gemv off)");
    }

    /** Every shape variant of the 1- and 2-row bf16 GEMV (GemvSweepBench's gemv_v rows) against double. */
    @ParameterizedTest
    @CsvSource({"1,1027,1024", "2,1027,1024", "1,517,4096", "2,45,1000", "1,4096,14336"})
    void everyShapeVariantMatchesDoubleReference(int m, int n, int k) {
        Random rnd = new Random(17L * m + n + k);
        MemorySegment a = arena.allocate(4L * m * k), w = arena.allocate(2L * n * k);
        for (long i = 0; i < (long) m * k; i++) {
            DType.F32.set(a, i, (float) rnd.nextGaussian());
        }
        for (long i = 0; i < (long) n * k; i++) {
            DType.BF16.set(w, i, (float) rnd.nextGaussian());
        }
        Matrix ga = upload(a, DType.F32, m, k, 0), gw = upload(w, DType.BF16, n, k, 0);
        Matrix out = ops.allocate(DType.F32, m, n);
        int ran = 0;
        for (int v = 0; v < CudaTensorOps.gemvVariants(); v++) {
            if (ops.gemvVariantSupports(v, ga, gw, out)) {
                ops.matmulTGemvVariant(ga, gw, out, v);
                check(a, w, DType.BF16, m, n, k, out, 1e-5, "gemv variant " + v + " (" + CudaTensorOps.gemvVariant(v) + ")");
                ran++;
            }
        }
        assertTrue(ran >= 3, "only " + ran + " variants ran for " + m + " rows");
    }

    private Matrix upload(MemorySegment host, DType t, int rows, int cols, int offset) {
        Matrix whole = ops.allocate(t, 1, (int) (host.byteSize() / t.bytes()) + 16);
        ops.upload(host, whole.buffer(), offset);
        return new Matrix(whole.buffer().slice(offset, host.byteSize()), t, rows, cols);
    }

    private void check(MemorySegment a, MemorySegment w, DType wt, int m, int n, int k, Matrix out, double rel,
                       String what) {
        MemorySegment got = arena.allocate(4L * m * n);
        ops.download(out.buffer(), 0, got);
        double worst = 0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0, abs = 0;
                for (int q = 0; q < k; q++) {
                    double p = (double) DType.F32.get(a, (long) i * k + q) * wt.get(w, (long) j * k + q);
                    sum += p;
                    abs += Math.abs(p);
                }
                double err = Math.abs(sum - DType.F32.get(got, (long) i * n + j)) / (rel * abs + 1e-6);
                worst = Math.max(worst, err);
            }
        }
        assertTrue(worst <= 1, what + " " + m + "x" + n + "x" + k + " " + wt + ": error " + worst + " of the bound");
    }
}
