package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The tensor-core skinny GEMM (gemv.cu cohort_tcgemv_*, {@link CudaTensorOps#matmulTTc}) against a host reference
 * in double from the same inputs the kernel multiplies: the activations rounded to the weight type (nearest-even,
 * as the kernel rounds them on load) and the stored weights. Every product of two bf16 (or f16) values is exact in
 * f32, so the only error is f32 accumulation: per output about 2 (k / 16 / kSplit) mma accumulations into the
 * same f32 registers (the tensor cores may truncate rather than round each, error <= 2^-23 of the running sum)
 * plus kSplit shared-memory adds. At k = 14336 and kSplit = 4 that is 224 steps, <= 224 * 2^-23 = 2.7e-5 of the
 * largest partial sum, which is at most about the largest |ref|; the bound 1e-4 * max |ref| (over the m x n
 * outputs of the launch) leaves a 4x margin, while one missed or doubled 8-k segment of Gaussian data moves an
 * output by ~sqrt(8) against max |ref| ~ 4 sqrt(k), i.e. >= 5e-3 of it even at k = 14336. Rows of out past m must
 * stay untouched (NaN sentinel), and so must the row after the last (n clipped).
 */
@Tag("gpu")
class CudaTcGemvTest {
    private static final double BOUND = 1e-4;
    private CudaTensorOps ops;
    private Arena arena;

    @BeforeEach
    void open() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        ops = new CudaTensorOps(CudaDevices.open(0));
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
     * n, k, weight type: n never a multiple of a block's 16/32 rows; k = 4096 and 14336 (the 8B shapes), 1000
     * (a 8-wide tail chunk: 1000 = 31 * 32 + 8), 40 (one chunk and a tail: fewer chunks than k-split warps), 8.
     */
    @ParameterizedTest
    @CsvSource({"517,4096,BF16", "45,14336,BF16", "200,1000,BF16", "70,40,BF16", "33,8,BF16", "1,4096,BF16",
            "517,4096,F16", "45,1000,F16"})
    void everyVariantAndRowCountMatchesTheReference(int n, int k, DType wt) {
        Random rnd = new Random(31L * n + k);
        int maxM = TcGemv.MAX_ROWS;
        MemorySegment a = arena.allocate(4L * maxM * k), w = arena.allocate((long) wt.bytes() * n * k);
        for (long i = 0; i < (long) maxM * k; i++) {
            DType.F32.set(a, i, (float) rnd.nextGaussian());
        }
        for (long i = 0; i < (long) n * k; i++) {
            wt.set(w, i, (float) rnd.nextGaussian());
        }
        double[][] ref = new double[maxM][n];
        for (int i = 0; i < maxM; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int q = 0; q < k; q++) {
                    s += (double) wt.round(DType.F32.get(a, (long) i * k + q)) * wt.get(w, (long) j * k + q);
                }
                ref[i][j] = s;
            }
        }
        Matrix ga = ops.allocate(DType.F32, maxM, k), gw = ops.allocate(wt, n, k);
        Matrix gout = ops.allocate(DType.F32, maxM + 1, n);
        MemorySegment nan = arena.allocate(4L * (maxM + 1) * n), got = arena.allocate(4L * (maxM + 1) * n);
        for (long i = 0; i < (long) (maxM + 1) * n; i++) {
            DType.F32.set(nan, i, Float.NaN);
        }
        try {
            ops.upload(a, ga.buffer(), 0);
            ops.upload(w, gw.buffer(), 0);
            for (int v = 0; v < CudaTensorOps.tcGemvVariants(); v++) {
                for (int m = 1; m <= maxM; m++) {
                    ops.upload(nan, gout.buffer(), 0);
                    Matrix am = new Matrix(ga.buffer(), DType.F32, m, k), om = new Matrix(gout.buffer(), DType.F32, m, n);
                    assertTrue(CudaTensorOps.tcGemvSupports(am, gw, om));
                    ops.matmulTTc(am, gw, om, v);
                    ops.download(gout.buffer(), 0, got);
                    double max = 0, worst = 0;
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            max = Math.max(max, Math.abs(ref[i][j]));
                        }
                    }
                    String what = "v" + v + " (" + CudaTensorOps.tcGemvVariant(v) + ") " + m + "x" + n + "x" + k + " " + wt;
                    for (int i = 0; i <= maxM; i++) {
                        for (int j = 0; j < n; j++) {
                            float g = DType.F32.get(got, (long) i * n + j);
                            if (i >= m) {
                                assertTrue(Float.isNaN(g), what + ": wrote row " + i + " col " + j + " past m");
                                continue;
                            }
                            assertTrue(Float.isFinite(g), what + ": " + g + " at " + i + "," + j);
                            worst = Math.max(worst, Math.abs(g - ref[i][j]));
                        }
                    }
                    assertTrue(worst <= BOUND * max, what + ": max |diff| " + worst + " = " + worst / max
                            + " of max |ref| " + max + ", bound " + BOUND);
                }
            }
        } finally {
            ops.free(ga);
            ops.free(gw);
            ops.free(gout);
        }
    }

    /** With cohort.nn.tcGemv on, matmulT of 5..16 rows on a small weight is the default variant's launch, bit for bit. */
    @Test
    void matmulTTakesTheDefaultVariantWhenOn() {
        int n = 300, k = 512;
        Random rnd = new Random(5);
        MemorySegment a = arena.allocate(4L * 16 * k), w = arena.allocate(2L * n * k);
        for (long i = 0; i < 16L * k; i++) {
            DType.F32.set(a, i, (float) rnd.nextGaussian());
        }
        for (long i = 0; i < (long) n * k; i++) {
            DType.BF16.set(w, i, (float) rnd.nextGaussian());
        }
        Matrix ga = ops.allocate(DType.F32, 16, k), gw = ops.allocate(DType.BF16, n, k), gout = ops.allocate(DType.F32, 16, n);
        try {
            ops.upload(a, ga.buffer(), 0);
            ops.upload(w, gw.buffer(), 0);
            ops.useTcGemv(true);
            for (int m : new int[] {5, 8, 9, 16}) {   // (up to 4 rows of a weight this small take the GEMV)
                Matrix am = new Matrix(ga.buffer(), DType.F32, m, k), om = new Matrix(gout.buffer(), DType.F32, m, n);
                ops.matmulT(am, gw, om);
                float[] viaMatmulT = download(om);
                ops.matmulTTc(am, gw, om, TcGemv.defaultVariant(m, n, k));
                assertArrayEquals(download(om), viaMatmulT, "m=" + m);
            }
        } finally {
            ops.free(ga);
            ops.free(gw);
            ops.free(gout);
        }
    }

    private float[] download(Matrix m) {
        MemorySegment s = arena.allocate(m.byteSize(), 16);
        ops.download(m.buffer(), 0, s);
        return s.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
    }
}
