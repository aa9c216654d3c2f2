package io.cohort.nn.cuda;

import static io.cohort.nn.cuda.CudaPrefillAttentionTest.assertVectorsClose;
import static io.cohort.nn.cuda.CudaPrefillAttentionTest.reference;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.cuda.CudaDevices;
import io.cohort.nn.Matrix;
import io.cohort.nn.TensorOpsFactory;
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
 * The one-launch decode attention (cohort_nn_attention_decode_d64 / _d128) for one query row against causal
 * grouped-query attention in double on the host and against the split-K kernels, at the three model shapes
 * (16/8/64, 32/4/64, 32/8/128) and a group of 64 heads, at positions around the chunk and warp boundaries (32
 * positions a chunk, 8 warps: 256 a round) up to a 2048-position cache. Cache rows past the position are NaN, so
 * a read of any of them fails the test. Bound: the f32 kernels' 1e-4 of each vector's max magnitude
 * ({@link CudaPrefillAttentionTest#F32_TOL}). Also: attention() takes this kernel for one row (the same bits) and
 * split-K past {@link CudaTensorOps#DECODE_MAX_SEQ}; layouts it does not take are refused with the reason.
 */
@Tag("gpu")
class CudaDecodeAttentionTest {
    private CudaTensorOps g;
    private TestMatrices m;

    @BeforeEach
    void open() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        assumeTrue(CublasLibrary.isAvailable(), "needs " + CublasLibrary.SONAME);
        g = (CudaTensorOps) TensorOpsFactory.forDevice(CudaDevices.open(0), 1);
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
        int[][] shapes = {{16, 8, 64}, {32, 4, 64}, {32, 8, 128}, {64, 1, 128}};
        for (int[] s : shapes) {
            for (int pos : new int[] {0, 1, 31, 32, 95, 255, 256, 257, 1000, 2047}) {
                out.add(Arguments.of(s[0], s[1], s[2], pos));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}/{1} heads of {2} at position {3}")
    @MethodSource("cases")
    void matchesF64AndSplitK(int heads, int kvHeads, int d, int pos) {
        int capacity = CudaAttention.DECODE_MAX_SEQ;
        Random rnd = new Random(17L * heads + 5L * d + pos);
        float[] q = TestMatrices.gaussian(heads * d, rnd);
        float[] k = TestMatrices.cache(capacity, kvHeads * d, pos + 1, rnd), v = TestMatrices.cache(capacity, kvHeads * d, pos + 1, rnd);
        Matrix gq = m.upload(q, 1, heads * d), gk = m.upload(k, capacity, kvHeads * d), gv = m.upload(v, capacity, kvHeads * d);
        Matrix decode = m.nan(1, heads * d), split = m.nan(1, heads * d), via = m.nan(1, heads * d);
        g.attentionKernels().decode(gq, gk, gv, heads, kvHeads, d, pos, decode);
        g.attention(gq, gk, gv, heads, kvHeads, d, pos, via);
        float[] out = m.download(decode);
        assertVectorsClose(reference(q, k, v, 1, heads, kvHeads, d, pos), out, d, CudaPrefillAttentionTest.F32_TOL,
                "decode kernel vs f64 attention");
        boolean splitK = CudaAttention.splitKSupports(heads, kvHeads, d);   // groups of at most 16 heads
        if (splitK) {
            g.attentionKernels().splitK(gq, gk, gv, heads, kvHeads, d, pos, split);
            assertVectorsClose(TestMatrices.toDouble(m.download(split)), out, d, CudaPrefillAttentionTest.F32_TOL, "decode vs split-K");
        }
        if (!"split".equals(System.getProperty("cohort.nn.decode-attention"))) {
            assertSameBits(out, m.download(via), "attention() took the decode kernel");
        } else if (splitK) {
            assertSameBits(m.download(split), m.download(via), "attention() took split-K (cohort.nn.decode-attention=split)");
        }
    }

    /**
     * The decode kernel with the step's rotary and KV write (rotaryAttention's one-row path) against rotaryKvWrite
     * then the decode kernel: the caches and the output bit for bit, and rotaryAttention() took it.
     */
    @ParameterizedTest(name = "{0}/{1} heads of {2} at position {3}")
    @MethodSource("cases")
    void rotaryDecodeIsRotaryKvWriteThenDecode(int heads, int kvHeads, int d, int pos) {
        int capacity = CudaAttention.DECODE_MAX_SEQ;
        Random rnd = new Random(23L * heads + 3L * d + pos);
        float[] q = TestMatrices.gaussian(heads * d, rnd), k = TestMatrices.gaussian(kvHeads * d, rnd), v = TestMatrices.gaussian(kvHeads * d, rnd);
        float[] kc = TestMatrices.cache(capacity, kvHeads * d, pos, rnd), vc = TestMatrices.cache(capacity, kvHeads * d, pos, rnd);
        Matrix table = io.cohort.nn.RotaryTable.create(g, capacity, d, 500000.0);
        m.own(table);
        Matrix q1 = m.upload(q, 1, heads * d), q2 = m.upload(q, 1, heads * d), q3 = m.upload(q, 1, heads * d);
        Matrix gk = m.upload(k, 1, kvHeads * d), gv = m.upload(v, 1, kvHeads * d);
        Matrix kc1 = m.upload(kc, capacity, kvHeads * d), vc1 = m.upload(vc, capacity, kvHeads * d);
        Matrix kc2 = m.upload(kc, capacity, kvHeads * d), vc2 = m.upload(vc, capacity, kvHeads * d);
        Matrix kc3 = m.upload(kc, capacity, kvHeads * d), vc3 = m.upload(vc, capacity, kvHeads * d);
        Matrix ref = m.nan(1, heads * d), fused = m.nan(1, heads * d), via = m.nan(1, heads * d);
        g.rotaryKvWrite(q1, gk, gv, heads, kvHeads, d, pos, table, kc1, vc1);
        g.attentionKernels().decode(q1, kc1, vc1, heads, kvHeads, d, pos, ref);
        g.attentionKernels().rotaryDecode(q2, gk, gv, heads, kvHeads, d, pos, table, kc2, vc2, fused);
        g.rotaryAttention(q3, gk, gv, heads, kvHeads, d, pos, table, kc3, vc3, via);
        String what = heads + "/" + kvHeads + " of " + d + " at " + pos;
        assertSameBits(m.download(ref), m.download(fused), what + ": output");
        assertSameBits(m.download(kc1), m.download(kc2), what + ": K cache");
        assertSameBits(m.download(vc1), m.download(vc2), what + ": V cache");
        assertSameBits(m.download(ref), m.download(via), what + ": rotaryAttention() took the fused decode kernel");
    }

    /** A cache longer than DECODE_MAX_SEQ: attention() takes split-K (the same bits as attentionKernels().splitK). */
    @Test
    void longCachesTakeSplitK() {
        int heads = 32, kvHeads = 8, d = 128, capacity = CudaAttention.DECODE_MAX_SEQ + 1, pos = capacity - 1;
        assertEquals(CudaAttention.Kernel.SPLIT_K,
                CudaAttention.kernelFor(1, heads, kvHeads, d, capacity, true, true, true));
        Random rnd = new Random(3);
        float[] q = TestMatrices.gaussian(heads * d, rnd);
        float[] k = TestMatrices.cache(capacity, kvHeads * d, pos + 1, rnd), v = TestMatrices.cache(capacity, kvHeads * d, pos + 1, rnd);
        Matrix gq = m.upload(q, 1, heads * d), gk = m.upload(k, capacity, kvHeads * d), gv = m.upload(v, capacity, kvHeads * d);
        Matrix split = m.nan(1, heads * d), via = m.nan(1, heads * d), decode = m.nan(1, heads * d);
        g.attentionKernels().splitK(gq, gk, gv, heads, kvHeads, d, pos, split);
        g.attention(gq, gk, gv, heads, kvHeads, d, pos, via);
        assertSameBits(m.download(split), m.download(via), "attention() on a long cache");
        // the decode kernel itself still computes it right when asked (slower there, not wrong)
        g.attentionKernels().decode(gq, gk, gv, heads, kvHeads, d, pos, decode);
        assertVectorsClose(reference(q, k, v, 1, heads, kvHeads, d, pos), m.download(decode), d,
                CudaPrefillAttentionTest.F32_TOL, "decode kernel on a long cache");
    }

    @Test
    void refusesLayoutsItDoesNotTake() {
        Matrix q2 = m.nan(2, 32 * 128), q96 = m.nan(1, 32 * 96), out2 = m.nan(2, 32 * 128);
        Matrix k = m.nan(64, 8 * 128), k96 = m.nan(64, 8 * 96), out96 = m.nan(1, 32 * 96);
        IllegalArgumentException rows = assertThrows(IllegalArgumentException.class,
                () -> g.attentionKernels().decode(q2, k, k, 32, 8, 128, 3, out2));
        assertEquals(true, rows.getMessage().contains("one row"), rows.getMessage());
        assertThrows(IllegalArgumentException.class, () -> g.attentionKernels().decode(q96, k96, k96, 32, 8, 96, 3, out96));
    }

    private static void assertSameBits(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + ": differs at " + i + ": " + actual[i] + " vs " + expected[i]);
            }
        }
    }






}
