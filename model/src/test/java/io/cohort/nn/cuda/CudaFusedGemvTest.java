package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.graph.CudaGraph;
import io.cohort.cuda.graph.GraphCapture;
import io.cohort.nn.Matrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fused decode GEMVs (gemv.cu: cohort_gemv_silu_*, _addnorm_*, _silu_addnorm_*, through
 * {@link CudaTensorOps#siluMatmulT}, {@link CudaTensorOps#matmulTAddRmsNorm},
 * {@link CudaTensorOps#siluMatmulTAddRmsNorm}) against the unfused ops on the same device (siluMulPacked then
 * matmulT; matmulT then addRmsNorm): the product, the residual and the normed output bit for bit, since the
 * fused kernels run the plain GEMV's arithmetic with the same launch shape, the SwiGLU with
 * cohort_nn_silu_mul_packed's f32 expression and the norm with cohort_nn_add_rmsnorm's reduction order.
 * Decode shapes [n x k] of o_proj and down: 8 x 1024 (1024 x 1024, 1024 x 2816), TinyLlama (2048 x 2048,
 * 2048 x 5632), Llama-3-8B (4096 x 4096, 4096 x 14336), m = 1, 2, 4, bf16 and f16 weights; the GEMV is forced
 * for every shape it supports ({@link CudaTensorOps#gemvEverywhere}), so every fused tile runs. A scratch
 * matrix the unfused path would write (g, the product) holds a sentinel that the fused launch must leave alone,
 * which shows the fused kernel ran. Also: 100 launches in a row and a CUDA graph replayed 20 times (the ticket
 * counter resets itself), and shapes that fall back (m = 16, k % 8 != 0, GEMV off) still right.
 */
@Tag("gpu")
class CudaFusedGemvTest {
    private static final float EPS = 1e-5f;
    private static final int SENTINEL = 0x7fc0_1234;   // a NaN no kernel writes

    private CudaTensorOps ops;
    private Arena arena;
    private final List<Matrix> owned = new ArrayList<>();

    @BeforeEach
    void open() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        assumeTrue(CublasLibrary.isAvailable(), "needs " + CublasLibrary.SONAME);
        ops = new CudaTensorOps(CudaDevices.open(0));
        ops.useFusedGemv(true);   // opt-in in production (slower on an H200); these tests check its results
        ops.gemvEverywhere(true);
        arena = Arena.ofConfined();
    }

    @AfterEach
    void close() {
        if (ops != null) {
            owned.forEach(ops::free);
            ops.close();
            arena.close();
        }
    }

    /** o_proj shapes: residual += a · wᵀ, normed = rmsNorm(residual). */
    @ParameterizedTest
    @CsvSource({"1024,1024,BF16,BF16", "1024,1024,F16,F16", "2048,2048,BF16,BF16", "2048,2048,F16,F16",
            "4096,4096,BF16,BF16", "4096,4096,F16,F16", "1024,1024,BF16,F32", "4096,4096,F16,F32"})
    void addNormEpilogueIsBitIdenticalToMatmulThenAddRmsNorm(int n, int k, DType wt, DType nt) {
        SplittableRandom rnd = new SplittableRandom(n * 31L + k + wt.ordinal());
        Matrix w = random(wt, n, k, rnd, 1), nw = normWeight(nt, n, rnd);
        for (int m : new int[] {1, 2, 4}) {
            assertTrue(Gemv.fuses(m));
            Matrix a = random(DType.F32, m, k, rnd, 1), residual = random(DType.F32, m, n, rnd, 1);
            Matrix r1 = copy(residual), r2 = copy(residual), out1 = zeros(m, n), out2 = sentinel(m, n);
            Matrix normed1 = zeros(m, n), normed2 = sentinel(m, n);
            ops.matmulT(a, w, out1);
            ops.addRmsNorm(r1, out1, nw, EPS, normed1);
            ops.matmulTAddRmsNorm(a, w, out2, r2, nw, EPS, normed2);
            String what = "addnorm " + m + "x" + n + "x" + k + " " + wt + " norm " + nt;
            assertSentinel(out2, what + ": the product scratch was written, the fused kernel did not run");
            assertBits(r1, r2, what + " residual");
            assertBits(normed1, normed2, what + " normed");
        }
    }

    /** down shapes: out = siluMulPacked(gu) · wᵀ, and with the add + norm epilogue (tp = 1). */
    @ParameterizedTest
    @CsvSource({"1024,2816,BF16", "1024,2816,F16", "2048,5632,BF16", "2048,5632,F16", "4096,14336,BF16",
            "4096,14336,F16"})
    void siluPrologueIsBitIdenticalToSiluMulPackedThenMatmul(int n, int k, DType wt) {
        SplittableRandom rnd = new SplittableRandom(n * 17L + k + wt.ordinal());
        Matrix w = random(wt, n, k, rnd, 1), nw = normWeight(wt, n, rnd);
        for (int m : new int[] {1, 2, 4}) {
            Matrix gu = random(DType.F32, m, 2 * k, rnd, 3);   // gate values to +-10: silu's tails too
            Matrix g1 = zeros(m, k), g2 = sentinel(m, k), out1 = zeros(m, n), out2 = zeros(m, n);
            ops.siluMulPacked(gu, g1);
            ops.matmulT(g1, w, out1);
            ops.siluMatmulT(gu, g2, w, out2);
            String what = "silu " + m + "x" + n + "x" + k + " " + wt;
            assertSentinel(g2, what + ": g was written, the fused kernel did not run");
            assertBits(out1, out2, what + " product");

            Matrix residual = random(DType.F32, m, n, rnd, 1), r1 = copy(residual), r2 = copy(residual);
            Matrix normed1 = zeros(m, n), normed2 = sentinel(m, n), out3 = sentinel(m, n);
            ops.addRmsNorm(r1, out1, nw, EPS, normed1);
            ops.siluMatmulTAddRmsNorm(gu, g2, w, out3, r2, nw, EPS, normed2);
            what = "silu+addnorm " + m + "x" + n + "x" + k + " " + wt;
            assertSentinel(g2, what + ": g was written");
            assertSentinel(out3, what + ": the product scratch was written");
            assertBits(r1, r2, what + " residual");
            assertBits(normed1, normed2, what + " normed");
        }
    }

    /**
     * The residual stream's forms (tp = 1 decode): the norm prologue (qkv and gate|up shapes) against rmsNorm then
     * matmulT within f32 rounding of the sums (the fused kernel scales each row's sums by the norm's inverse instead
     * of scaling its inputs), and the add epilogues (o_proj, down with SwiGLU) bit for bit against matmulT then add.
     */
    @ParameterizedTest
    @CsvSource({"2048,1024,BF16", "5632,1024,F16", "2560,2048,BF16", "11264,2048,BF16", "6144,4096,BF16", "6144,4096,F16"})
    void normPrologueMatchesRmsNormThenMatmul(int n, int k, DType wt) {
        SplittableRandom rnd = new SplittableRandom(n * 13L + k + wt.ordinal());
        Matrix w = random(wt, n, k, rnd, 1), nw = normWeight(wt, k, rnd);
        for (int m : new int[] {1, 2, 4}) {
            Matrix x = random(DType.F32, m, k, rnd, 2), normed1 = zeros(m, k), normed2 = sentinel(m, k);
            Matrix out1 = zeros(m, n), out2 = sentinel(m, n);
            ops.rmsNorm(x, nw, EPS, normed1);
            ops.matmulT(normed1, w, out1);
            ops.rmsNormMatmulT(x, nw, EPS, normed2, w, out2);
            String what = "norm " + m + "x" + n + "x" + k + " " + wt;
            assertSentinel(normed2, what + ": normed was written, the fused kernel did not run");
            assertCloseToLargest(out1, out2, what);
        }
    }

    /** Every element within 1e-5 of the largest |expected| (f32 rounding of k-term sums, k <= 14336). */
    private void assertCloseToLargest(Matrix expected, Matrix got, String what) {
        MemorySegment e = download(expected), g = download(got);
        double scale = 0, worst = 0;
        for (long i = 0; i < expected.elements(); i++) {
            scale = Math.max(scale, Math.abs(e.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
        }
        for (long i = 0; i < expected.elements(); i++) {
            worst = Math.max(worst, Math.abs(e.getAtIndex(ValueLayout.JAVA_FLOAT, i) - g.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
        }
        assertTrue(worst <= 1e-5 * scale, what + ": worst error " + worst + " of outputs up to " + scale);
    }

    @ParameterizedTest
    @CsvSource({"1024,1024,BF16", "1024,2816,BF16", "2048,5632,F16", "4096,4096,BF16", "4096,14336,BF16"})
    void addEpiloguesAreBitIdenticalToMatmulThenAdd(int n, int k, DType wt) {
        SplittableRandom rnd = new SplittableRandom(n * 7L + k + wt.ordinal());
        Matrix w = random(wt, n, k, rnd, 1);
        for (int m : new int[] {1, 2, 4}) {
            Matrix a = random(DType.F32, m, k, rnd, 1), residual = random(DType.F32, m, n, rnd, 1);
            Matrix r1 = copy(residual), r2 = copy(residual), out1 = zeros(m, n), out2 = sentinel(m, n);
            ops.matmulT(a, w, out1);
            ops.add(r1, out1, r1);
            ops.matmulTAdd(a, w, out2, r2);
            String what = "add " + m + "x" + n + "x" + k + " " + wt;
            assertSentinel(out2, what + ": the product scratch was written, the fused kernel did not run");
            assertBits(r1, r2, what + " residual");

            Matrix gu = random(DType.F32, m, 2 * k, rnd, 3), g1 = zeros(m, k), g2 = sentinel(m, k);
            Matrix r3 = copy(residual), r4 = copy(residual), out3 = zeros(m, n), out4 = sentinel(m, n);
            ops.siluMulPacked(gu, g1);
            ops.matmulT(g1, w, out3);
            ops.add(r3, out3, r3);
            ops.siluMatmulTAdd(gu, g2, w, out4, r4);
            what = "silu+add " + m + "x" + n + "x" + k + " " + wt;
            assertSentinel(g2, what + ": g was written, the fused kernel did not run");
            assertSentinel(out4, what + ": the product scratch was written");
            assertBits(r3, r4, what + " residual");
        }
    }

    /**
     * gate|up with the SwiGLU epilogue: bit for bit the GEMV then siluMulPacked, with and without the norm prologue
     * (against the norm-prologue GEMV then siluMulPacked); gu, the unfused product's scratch, stays untouched.
     */
    @ParameterizedTest
    @CsvSource({"5632,1024,BF16", "11264,2048,BF16", "11264,2048,F16", "28672,4096,BF16", "6,1024,BF16"})
    void swiGluEpilogueIsBitIdenticalToMatmulThenSiluMulPacked(int n, int k, DType wt) {
        SplittableRandom rnd = new SplittableRandom(n * 3L + k + wt.ordinal());
        Matrix w = random(wt, n, k, rnd, 1), nw = normWeight(wt, k, rnd);
        int f = n / 2;
        for (int m : new int[] {1, 2, 4}) {
            Matrix x = random(DType.F32, m, k, rnd, 1), gu1 = zeros(m, n), gu2 = sentinel(m, n);
            Matrix g1 = zeros(m, f), g2 = sentinel(m, f);
            ops.matmulT(x, w, gu1);
            ops.siluMulPacked(gu1, g1);
            ops.matmulTSwiGlu(x, w, gu2, g2);
            String what = "swiglu " + m + "x" + n + "x" + k + " " + wt;
            assertSentinel(gu2, what + ": gu was written, the fused kernel did not run");
            assertBits(g1, g2, what);

            Matrix normed = sentinel(m, k), g3 = zeros(m, f), g4 = sentinel(m, f);
            ops.rmsNormMatmulT(x, nw, EPS, normed, w, gu1);
            ops.siluMulPacked(gu1, g3);
            ops.rmsNormMatmulTSwiGlu(x, nw, EPS, normed, w, gu2, g4);
            what = "norm+swiglu " + m + "x" + n + "x" + k + " " + wt;
            assertSentinel(gu2, what + ": gu was written, the fused kernel did not run");
            assertBits(g3, g4, what);
        }
    }

    /** With cohort.nn.normInGemv off (or a row count past the fused tiles) the same ops run unfused and agree. */
    @Test
    void residualFormsFallBackWhenOff() {
        int n = 1024, k = 1024;
        SplittableRandom rnd = new SplittableRandom(11);
        Matrix w = random(DType.BF16, n, k, rnd, 1), nw = normWeight(DType.BF16, k, rnd);
        for (int m : new int[] {1, 16}) {
            Matrix x = random(DType.F32, m, k, rnd, 1), normed = zeros(m, k), out1 = zeros(m, n), out2 = zeros(m, n);
            ops.useNormInGemv(false);
            ops.rmsNormMatmulT(x, nw, EPS, normed, w, out1);
            Matrix expected = zeros(m, n), n2 = zeros(m, k);
            ops.rmsNorm(x, nw, EPS, n2);
            ops.matmulT(n2, w, expected);
            assertBits(expected, out1, "off, m=" + m);
            ops.useNormInGemv(true);
            ops.rmsNormMatmulT(x, nw, EPS, normed, w, out2);
            if (m > 4) {
                assertBits(expected, out2, "on, m=" + m + " (unfused)");
            } else {
                assertCloseToLargest(expected, out2, "on, m=" + m);
            }
        }
    }

    /** 100 launches in a row on one stream, both forms sharing the ticket counter: every one finds it zeroed. */
    @Test
    void hundredLaunchesInARowStayRight() {
        int n = 1024, k = 2816, m = 1;
        SplittableRandom rnd = new SplittableRandom(7);
        Matrix wo = random(DType.BF16, n, n, rnd, 1), wd = random(DType.BF16, n, k, rnd, 1);
        Matrix nw = normWeight(DType.BF16, n, rnd);
        Matrix a = random(DType.F32, m, n, rnd, 1), gu = random(DType.F32, m, 2 * k, rnd, 3);
        Matrix residual = random(DType.F32, m, n, rnd, 1), r1 = copy(residual), r2 = copy(residual);
        Matrix g = zeros(m, k), out = zeros(m, n), normed1 = zeros(m, n), normed2 = zeros(m, n);
        for (int i = 0; i < 100; i++) {
            ops.matmulT(a, wo, out);
            ops.addRmsNorm(r1, out, nw, EPS, normed1);
            ops.siluMulPacked(gu, g);
            ops.matmulT(g, wd, out);
            ops.addRmsNorm(r1, out, nw, EPS, normed1);
        }
        for (int i = 0; i < 100; i++) {
            ops.matmulTAddRmsNorm(a, wo, out, r2, nw, EPS, normed2);
            ops.siluMatmulTAddRmsNorm(gu, g, wd, out, r2, nw, EPS, normed2);
        }
        assertBits(r1, r2, "residual after 100 rounds");
        assertBits(normed1, normed2, "normed after 100 rounds (a counter left nonzero leaves normed stale)");
    }

    /** The fused forms captured into a CUDA graph and replayed: the counter is reset inside every replay. */
    @Test
    void graphReplaysStayRight() {
        int n = 1024, k = 2816, m = 1, replays = 20;
        SplittableRandom rnd = new SplittableRandom(8);
        Matrix wo = random(DType.BF16, n, n, rnd, 1), wd = random(DType.BF16, n, k, rnd, 1);
        Matrix nw = normWeight(DType.BF16, n, rnd);
        Matrix a = random(DType.F32, m, n, rnd, 1), gu = random(DType.F32, m, 2 * k, rnd, 3);
        Matrix residual = random(DType.F32, m, n, rnd, 1), r1 = copy(residual), r2 = copy(residual);
        Matrix g = zeros(m, k), out = zeros(m, n), normed1 = zeros(m, n), normed2 = zeros(m, n);
        for (int i = 0; i < replays; i++) {
            ops.matmulT(a, wo, out);
            ops.addRmsNorm(r1, out, nw, EPS, normed1);
            ops.siluMulPacked(gu, g);
            ops.matmulT(g, wd, out);
            ops.addRmsNorm(r1, out, nw, EPS, normed1);
        }
        ops.synchronize();
        ops.prepareGraphs();
        try (CudaGraph graph = GraphCapture.capture(ops.stream(), () -> {
            ops.matmulTAddRmsNorm(a, wo, out, r2, nw, EPS, normed2);
            ops.siluMatmulTAddRmsNorm(gu, g, wd, out, r2, nw, EPS, normed2);
        })) {
            for (int i = 0; i < replays; i++) {
                graph.launch(ops.stream());
            }
            ops.synchronize();
        }
        assertBits(r1, r2, "residual after " + replays + " graph replays");
        assertBits(normed1, normed2, "normed after " + replays + " graph replays");
    }

    /**
     * Shapes without a fused form take the unfused ops: m = 16 (no fused tile; the plain GEMV here), k % 8 != 0
     * and the GEMV off (cast + cuBLAS). The scratch is written (the fallback ran) and the results are the
     * unfused ops' (bit for bit on the GEMV; within 1e-6 relative on cuBLAS, whose algorithm may differ between
     * calls).
     */
    @ParameterizedTest
    @CsvSource({"16,1024,1024,true", "16,1024,2816,true", "1,1024,1004,true", "2,520,2820,true", "1,1024,2816,false",
            "4,1024,1024,false"})
    void shapesWithoutAFusedFormFallBack(int m, int n, int k, boolean gemv) {
        ops.useGemv(gemv);
        SplittableRandom rnd = new SplittableRandom(m * 1000L + k);
        Matrix w = random(DType.BF16, n, k, rnd, 1), nw = normWeight(DType.BF16, n, rnd);
        boolean exact = gemv && k % 8 == 0;
        assertEquals(m <= Gemv.FUSED_MAX_ROWS, Gemv.fuses(m));

        Matrix a = random(DType.F32, m, k, rnd, 1), residual = random(DType.F32, m, n, rnd, 1);
        Matrix r1 = copy(residual), r2 = copy(residual), out1 = zeros(m, n), out2 = sentinel(m, n);
        Matrix normed1 = zeros(m, n), normed2 = zeros(m, n);
        ops.matmulT(a, w, out1);
        ops.addRmsNorm(r1, out1, nw, EPS, normed1);
        ops.matmulTAddRmsNorm(a, w, out2, r2, nw, EPS, normed2);
        String what = "addnorm fallback " + m + "x" + n + "x" + k + (gemv ? "" : " (GEMV off)");
        assertTrue(!isSentinel(out2), what + ": the product scratch was not written");
        check(r1, r2, exact, what + " residual");
        check(normed1, normed2, exact, what + " normed");

        Matrix gu = random(DType.F32, m, 2 * k, rnd, 3), g1 = zeros(m, k), g2 = sentinel(m, k);
        Matrix p1 = zeros(m, n), p2 = zeros(m, n);
        ops.siluMulPacked(gu, g1);
        ops.matmulT(g1, w, p1);
        ops.siluMatmulT(gu, g2, w, p2);
        what = "silu fallback " + m + "x" + n + "x" + k + (gemv ? "" : " (GEMV off)");
        assertTrue(!isSentinel(g2), what + ": g was not written");
        check(p1, p2, exact, what + " product");

        Matrix r3 = copy(residual), r4 = copy(residual), n3 = zeros(m, n), n4 = zeros(m, n);
        ops.addRmsNorm(r3, p1, nw, EPS, n3);
        ops.siluMatmulTAddRmsNorm(gu, g2, w, zeros(m, n), r4, nw, EPS, n4);
        what = "silu+addnorm fallback " + m + "x" + n + "x" + k + (gemv ? "" : " (GEMV off)");
        check(r3, r4, exact, what + " residual");
        check(n3, n4, exact, what + " normed");
    }

    private Matrix own(Matrix m) {
        owned.add(m);
        return m;
    }

    /** Uniform in [-scale, scale), rounded to the type. */
    private Matrix random(DType t, int rows, int cols, SplittableRandom rnd, double scale) {
        MemorySegment host = arena.allocate((long) t.bytes() * rows * cols, 16);
        for (long i = 0; i < (long) rows * cols; i++) {
            t.set(host, i, (float) ((rnd.nextDouble() * 2 - 1) * scale));
        }
        Matrix m = own(ops.allocate(t, rows, cols));
        ops.upload(host, m.buffer(), 0);
        return m;
    }

    private Matrix normWeight(DType t, int n, SplittableRandom rnd) {
        MemorySegment host = arena.allocate((long) t.bytes() * n, 16);
        for (int i = 0; i < n; i++) {
            t.set(host, i, (float) (1 + 0.2 * (rnd.nextDouble() * 2 - 1)));
        }
        Matrix m = own(ops.allocate(t, 1, n));
        ops.upload(host, m.buffer(), 0);
        return m;
    }

    private Matrix zeros(int rows, int cols) {
        Matrix m = own(ops.allocate(DType.F32, rows, cols));
        ops.stream().zero(m.buffer(), 0, m.byteSize());
        return m;
    }

    private Matrix sentinel(int rows, int cols) {
        MemorySegment host = arena.allocate(4L * rows * cols, 16);
        for (long i = 0; i < (long) rows * cols; i++) {
            host.setAtIndex(ValueLayout.JAVA_INT, i, SENTINEL);
        }
        Matrix m = own(ops.allocate(DType.F32, rows, cols));
        ops.upload(host, m.buffer(), 0);
        return m;
    }

    private Matrix copy(Matrix src) {
        Matrix m = own(ops.allocate(src.dtype(), src.rows(), src.cols()));
        ops.copyRows(src, m, 0);
        return m;
    }

    private MemorySegment download(Matrix m) {
        MemorySegment host = arena.allocate(m.byteSize(), 16);
        ops.download(m.buffer(), 0, host);
        return host;
    }

    private boolean isSentinel(Matrix m) {
        MemorySegment h = download(m);
        for (long i = 0; i < m.elements(); i++) {
            if (h.getAtIndex(ValueLayout.JAVA_INT, i) != SENTINEL) {
                return false;
            }
        }
        return true;
    }

    private void assertSentinel(Matrix m, String what) {
        assertTrue(isSentinel(m), what);
    }

    private void check(Matrix expected, Matrix got, boolean exact, String what) {
        if (exact) {
            assertBits(expected, got, what);
            return;
        }
        MemorySegment e = download(expected), g = download(got);
        for (long i = 0; i < expected.elements(); i++) {
            float x = e.getAtIndex(ValueLayout.JAVA_FLOAT, i), y = g.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            assertEquals(x, y, 1e-6 * Math.max(1, Math.abs(x)), what + " at " + i);
        }
    }

    /** Every element's bits equal; else the count, the first and the largest difference in ulps. */
    private void assertBits(Matrix expected, Matrix got, String what) {
        MemorySegment e = download(expected), g = download(got);
        long differ = 0, first = -1, worstUlps = 0;
        for (long i = 0; i < expected.elements(); i++) {
            int x = e.getAtIndex(ValueLayout.JAVA_INT, i), y = g.getAtIndex(ValueLayout.JAVA_INT, i);
            if (x != y) {
                differ++;
                if (first < 0) {
                    first = i;
                }
                worstUlps = Math.max(worstUlps, Math.abs((long) x - y));
            }
        }
        if (differ > 0) {
            throw new AssertionError(what + ": " + differ + " of " + expected.elements() + " elements differ; first at "
                    + first + " (" + e.getAtIndex(ValueLayout.JAVA_FLOAT, first) + " vs "
                    + g.getAtIndex(ValueLayout.JAVA_FLOAT, first) + "), worst " + worstUlps + " ulps");
        }
    }
}
