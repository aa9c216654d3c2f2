package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.nn.Matrix;
import io.cohort.nn.TensorOpsFactory;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tensor-core prefill attention (cohort_nn_attention_prefill_tc64 / _tc128) against causal grouped-query
 * attention computed in double on the host and against the f32 online kernel, at the three model shapes (heads /
 * KV heads / head_dim 16/8/64, 32/4/64, 32/8/128), for whole prompts, chunks after a cached prefix and ragged
 * tiles; then the layouts it does not take, through CudaTensorOps.attention's fallback.
 *
 * <p>Bound. Inputs ~N(0,1). TF32 keeps 10 mantissa bits: q, k, v and the softmax weights p are each rounded to
 * nearest with relative error <= u = 2^-11 (uniform, std u/sqrt3); products accumulate in f32 (2^-24, negligible).
 * A score s = q.k/sqrt(d) then errs by sum_i q_i k_i (e_qi + e_ki) / sqrt(d): std sqrt(2/3) u = 0.82u, independent
 * of d. A score error ds moves o = sum p_j v_j by sum p_j (ds_j - mean ds) v_j, the rounding of p by
 * sum p_j e_pj (v_j - o) and of v by sum p_j e_vj v_j: each ~ (error std) x sqrt(sum p_j^2), and sqrt(sum p_j^2)
 * is also the RMS of the output vector itself (o_i = sum p_j v_ji, v iid). So per element the error is about
 * 1.15u x rms(o) (0.82, 0.58, 0.58 in quadrature), relative to the output vector's own scale whatever the row's
 * length. Over ~2M elements a 6-sigma excursion is 7u x rms, and a vector's largest element is >= ~2 rms
 * (d >= 64 normal samples): <= 3.5u = 1.7e-3 of the vector's max magnitude. Asserted, per (row, head) vector:
 * max |err| <= TOL x max |ref|, TOL = 4e-3 (8u), a 2x margin. Relative to the vector, not the matrix, so a mask off
 * by one position (an extra weight ~1/n on a vector of scale ~1/sqrt(n), a relative error ~1/sqrt(n) >= 0.04 at
 * n = 512) cannot hide in late rows whose outputs are small.
 */
@Tag("gpu")
class CudaPrefillAttentionTest {
    static final double TOL = 4e-3;
    /**
     * The f32 kernels (online, per-head) on the same scale: their sums over up to 512 positions err by ~1e-6 of
     * sum |p_j v_j| (~0.8), a few times that relative to a late row's small vector; sanity bound 1e-4.
     */
    static final double F32_TOL = 1e-4;

    private CudaDevice gpu;
    private CudaTensorOps g;
    private TestMatrices m;

    @BeforeEach
    void open() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        assumeTrue(CublasLibrary.isAvailable(), "needs " + CublasLibrary.SONAME);
        gpu = CudaDevices.open(0);
        g = (CudaTensorOps) TensorOpsFactory.forDevice(gpu, 1);
        m = new TestMatrices(g);
    }

    @AfterEach
    void close() {
        if (g != null) {
            m.close();
            g.close();
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int[][] shapes = {{16, 8, 64}, {32, 4, 64}, {32, 8, 128}};
        int[][] spans = {{512, 0}, {128, 384}, {17, 0}, {100, 37}, {64, 64}, {33, 300}};
        for (int[] s : shapes) {
            for (int[] r : spans) {
                out.add(Arguments.of(s[0], s[1], s[2], r[0], r[1]));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}/{1} heads of {2}, {3} rows from {4}")
    @MethodSource("cases")
    void tensorCoresMatchF32Attention(int heads, int kvHeads, int d, int rows, int start) {
        assertTrue(g.attentionKernels().prefillTcAvailable(d), "the tensor-core kernel for head_dim " + d + " did not get its shared memory");
        int capacity = start + rows + 64;
        Random rnd = new Random(31L * heads + 7L * d + 131L * rows + start);
        float[] q = TestMatrices.gaussian(rows * heads * d, rnd);
        // positions past the prompt are NaN: a read of any of them poisons the outputs
        float[] k = TestMatrices.cache(capacity, kvHeads * d, start + rows, rnd), v = TestMatrices.cache(capacity, kvHeads * d, start + rows, rnd);
        Matrix gq = m.upload(q, rows, heads * d), gk = m.upload(k, capacity, kvHeads * d), gv = m.upload(v, capacity, kvHeads * d);
        Matrix tc = m.nan(rows, heads * d), online = m.nan(rows, heads * d), via = m.nan(rows, heads * d);
        g.attentionKernels().prefillTc(gq, gk, gv, heads, kvHeads, d, start, tc);
        g.attentionKernels().online(gq, gk, gv, heads, kvHeads, d, start, online);
        g.attention(gq, gk, gv, heads, kvHeads, d, start, via);
        double[] ref = reference(q, k, v, rows, heads, kvHeads, d, start);
        float[] tcOut = m.download(tc), onlineOut = m.download(online);
        assertVectorsClose(ref, tcOut, d, TOL, "tensor cores vs f64 attention");
        assertVectorsClose(TestMatrices.toDouble(onlineOut), tcOut, d, TOL, "tensor cores vs the online kernel");
        assertVectorsClose(ref, onlineOut, d, F32_TOL, "online kernel vs f64 attention (f32 bound)");
        // attention() took this very kernel (the online one under -Dcohort.nn.prefill-attention=simt): the same bits
        boolean simt = "simt".equals(System.getProperty("cohort.nn.prefill-attention"));
        float[] viaOut = m.download(via), expected = simt ? onlineOut : tcOut;
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(viaOut[i]) != Float.floatToRawIntBits(expected[i])) {
                throw new AssertionError("attention() differs from attention" + (simt ? "Online" : "PrefillTc") + " at "
                        + i + ": " + viaOut[i] + " vs " + expected[i]);
            }
        }
    }

    /** head_dim 80 (online kernel) and unaligned matrices (per-head kernel) through attention(); f32 bound. */
    @Test
    void layoutsItDoesNotTakeFallBack() {
        int rows = 100, start = 37, capacity = 256;
        Random rnd = new Random(80);
        {
            int heads = 12, kvHeads = 4, d = 80;
            assertEquals(CudaAttention.Kernel.ONLINE,
                    CudaAttention.kernelFor(rows, heads, kvHeads, d, capacity, true, true, true));
            float[] q = TestMatrices.gaussian(rows * heads * d, rnd);
            float[] k = TestMatrices.cache(capacity, kvHeads * d, start + rows, rnd), v = TestMatrices.cache(capacity, kvHeads * d, start + rows, rnd);
            Matrix gq = m.upload(q, rows, heads * d), gk = m.upload(k, capacity, kvHeads * d), gv = m.upload(v, capacity, kvHeads * d);
            Matrix out = m.nan(rows, heads * d);
            assertThrows(IllegalArgumentException.class, () -> g.attentionKernels().prefillTc(gq, gk, gv, heads, kvHeads, d, start, out));
            g.attention(gq, gk, gv, heads, kvHeads, d, start, out);
            assertVectorsClose(reference(q, k, v, rows, heads, kvHeads, d, start), m.download(out), d, F32_TOL, "head_dim 80");
        }
        {
            int heads = 32, kvHeads = 8, d = 128;
            float[] q = TestMatrices.gaussian(rows * heads * d, rnd);
            float[] k = TestMatrices.cache(capacity, kvHeads * d, start + rows, rnd), v = TestMatrices.cache(capacity, kvHeads * d, start + rows, rnd);
            // q 4 bytes past a 16-byte boundary
            Matrix big = m.own(g.allocate(DType.F32, 1, rows * heads * d + 4));
            Matrix gq = new Matrix(big.buffer().slice(4, 4L * rows * heads * d), DType.F32, rows, heads * d);
            g.upload(MemorySegment.ofArray(q), gq.buffer(), 0);
            Matrix gk = m.upload(k, capacity, kvHeads * d), gv = m.upload(v, capacity, kvHeads * d);
            Matrix out = m.nan(rows, heads * d);
            assertThrows(IllegalArgumentException.class, () -> g.attentionKernels().prefillTc(gq, gk, gv, heads, kvHeads, d, start, out));
            g.attention(gq, gk, gv, heads, kvHeads, d, start, out);
            assertVectorsClose(reference(q, k, v, rows, heads, kvHeads, d, start), m.download(out), d, F32_TOL, "unaligned q");
        }
    }

    /** Causal grouped-query attention in double: row t at position start + t sees positions 0 .. start + t. */
    static double[] reference(float[] q, float[] k, float[] v, int rows, int heads, int kvHeads, int d, int start) {
        int group = heads / kvHeads, kvCols = kvHeads * d;
        double scale = 1.0 / Math.sqrt(d);
        double[] out = new double[rows * heads * d];
        double[] s = new double[start + rows];
        for (int t = 0; t < rows; t++) {
            int last = start + t;
            for (int h = 0; h < heads; h++) {
                int qb = (t * heads + h) * d, kb = (h / group) * d;
                double mx = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= last; j++) {
                    double dot = 0;
                    for (int i = 0; i < d; i++) {
                        dot += (double) q[qb + i] * k[j * kvCols + kb + i];
                    }
                    s[j] = dot * scale;
                    mx = Math.max(mx, s[j]);
                }
                double sum = 0;
                for (int j = 0; j <= last; j++) {
                    s[j] = Math.exp(s[j] - mx);
                    sum += s[j];
                }
                for (int j = 0; j <= last; j++) {
                    double w = s[j] / sum;
                    for (int i = 0; i < d; i++) {
                        out[qb + i] += w * v[j * kvCols + kb + i];
                    }
                }
            }
        }
        return out;
    }

    /**
     * Per vector of {@code d} (one row and head): max |actual - expected| <= tol x max |expected| of that vector;
     * the floor 1e-30 only guards an all-zero vector. A NaN fails.
     */
    static void assertVectorsClose(double[] expected, float[] actual, int d, double tol, String what) {
        double worst = 0;
        int worstAt = -1;
        for (int b = 0; b < expected.length; b += d) {
            double scale = 1e-30, err = 0;
            for (int i = b; i < b + d; i++) {
                scale = Math.max(scale, Math.abs(expected[i]));
                double e = Math.abs(actual[i] - expected[i]);
                err = Double.isNaN(e) ? Double.POSITIVE_INFINITY : Math.max(err, e);
            }
            if (err / scale > worst) {
                worst = err / scale;
                worstAt = b / d;
            }
        }
        assertTrue(worst <= tol, what + ": worst error " + worst + " of the vector's max magnitude, at vector "
                + worstAt + " (row x heads + head); bound " + tol);
    }






}
