package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import org.junit.jupiter.api.Test;

/** The GEMV dispatch and launch rules (no GPU needed). */
class GemvTest {
    private static final long ALIGNED = 0x7f00_0000_0000L;

    @Test
    void decodeShapesWithHalfWeightsTakeTheKernel() {
        for (DType w : new DType[] {DType.BF16, DType.F16}) {
            for (int m = 1; m <= 16; m++) {
                assertTrue(Gemv.supports(DType.F32, w, DType.F32, m, 4096, ALIGNED, ALIGNED + 256), w + " m=" + m);
            }
            assertTrue(Gemv.supports(DType.F32, w, DType.F32, 1, 8, ALIGNED, ALIGNED));
            assertTrue(Gemv.supports(DType.F32, w, DType.F32, 1, 1000, ALIGNED, ALIGNED));
        }
    }

    @Test
    void everythingElseGoesToCublas() {
        DType bf = DType.BF16, f32 = DType.F32;
        assertFalse(Gemv.supports(f32, bf, f32, 0, 4096, ALIGNED, ALIGNED), "no rows");
        assertFalse(Gemv.supports(f32, bf, f32, 17, 4096, ALIGNED, ALIGNED), "prefill");
        assertFalse(Gemv.supports(f32, f32, f32, 1, 4096, ALIGNED, ALIGNED), "f32 weights");
        assertFalse(Gemv.supports(bf, bf, f32, 1, 4096, ALIGNED, ALIGNED), "bf16 activations");
        assertFalse(Gemv.supports(f32, bf, bf, 1, 4096, ALIGNED, ALIGNED), "bf16 output");
        assertFalse(Gemv.supports(f32, bf, f32, 1, 1001, ALIGNED, ALIGNED), "k not whole vectors");
        assertFalse(Gemv.supports(f32, bf, f32, 1, 4, ALIGNED, ALIGNED), "k below one vector");
        assertFalse(Gemv.supports(f32, bf, f32, 1, 0, ALIGNED, ALIGNED), "k = 0");
        assertFalse(Gemv.supports(f32, bf, f32, 1, 4096, ALIGNED + 4, ALIGNED), "a misaligned");
        assertFalse(Gemv.supports(f32, bf, f32, 1, 4096, ALIGNED, ALIGNED + 8), "w misaligned");
    }

    @Test
    void measuredRuleKeepsCublasWhereItWins() {
        long mib = 1L << 20;
        assertTrue(Gemv.faster(1, 1_050 * mib), "one row: the LM head too");
        assertTrue(Gemv.faster(2, 22 * mib));
        assertTrue(Gemv.faster(2, 48 * mib), "two rows: the 8B qkv too (76% against cuBLAS's 67%)");
        assertTrue(Gemv.faster(3, 4 * mib));
        assertTrue(Gemv.faster(4, 4 * mib));
        assertFalse(Gemv.faster(4, 16 * mib));
        for (int m = 5; m <= 16; m++) {
            assertFalse(Gemv.faster(m, 2 * mib), "m=" + m);
        }
    }

    @Test
    void tileIsTheSmallestThatHoldsTheRows() {
        int[] expected = {0, 0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4};
        for (int m = 1; m <= 16; m++) {
            int t = Gemv.tile(m);
            assertEquals(expected[m], t, "m=" + m);
            assertTrue(Gemv.TILES[t] >= m && (t == 0 || Gemv.TILES[t - 1] < m));
        }
        assertThrows(IllegalArgumentException.class, () -> Gemv.tile(17));
    }

    @Test
    void gridCoversEveryColumnAndBlocksAreWholeWarps() {
        for (int t = 0; t < Gemv.TILES.length; t++) {
            for (int n : new int[] {1, 3, 4, 5, 1027, 128256}) {
                int b = Gemv.blocks(t, n);
                assertTrue((long) b * Gemv.COLS[t] >= n && (long) (b - 1) * Gemv.COLS[t] < n, "n=" + n);
            }
            for (int k : new int[] {8, 256, 1000, 1024, 4096, 14336, 1 << 20}) {
                int th = Gemv.threads(t, k);
                assertEquals(0, th % 32);
                assertTrue(th >= 32 && th <= Gemv.MAX_THREADS, "k=" + k + " threads " + th);
            }
        }
        assertEquals(32, Gemv.threads(0, 1024));     // 128 vectors, 4 each
        assertEquals(128, Gemv.threads(0, 4096));    // 512 vectors, 4 each
        assertEquals(256, Gemv.threads(4, 4096));    // 512 vectors, 1 each, capped
        assertEquals(32, Gemv.threads(0, 8));
    }

    @Test
    void fusedFormsExistForTheDecodeTilesOnly() {
        for (int m = 1; m <= Gemv.FUSED_MAX_ROWS; m++) {
            assertTrue(Gemv.fuses(m), "m=" + m);
            assertTrue(Gemv.tile(m) < Gemv.FUSED_TILES, "m=" + m + " has a fused tile");
        }
        for (int m = Gemv.FUSED_MAX_ROWS + 1; m <= Gemv.MAX_ROWS; m++) {
            assertFalse(Gemv.fuses(m), "m=" + m);
        }
        assertFalse(Gemv.fuses(0));
        assertFalse(Gemv.fuses(17));
        assertEquals(Gemv.FUSED_MAX_ROWS, Gemv.TILES[Gemv.FUSED_TILES - 1], "the fused tiles are the first ones");
        // every fused decode case the plain rule takes at m = 1..4 (Gemv.faster) has a fused kernel
        for (int m = 1; m <= Gemv.MAX_ROWS; m++) {
            if (Gemv.faster(m, 1L << 20)) {
                assertTrue(Gemv.fuses(m), "m=" + m + " takes the GEMV but has no fused form");
            }
        }
    }

    @Test
    void fusedKernelNamesAndLabels() {
        assertEquals("cohort_gemv_silu_bf16_m1", NnKernels.gemvFusedName(Gemv.Fused.SILU, DType.BF16, 1));
        assertEquals("cohort_gemv_addnorm_f16_m2", NnKernels.gemvFusedName(Gemv.Fused.ADDNORM, DType.F16, 2));
        assertEquals("cohort_gemv_silu_addnorm_bf16_m4", NnKernels.gemvFusedName(Gemv.Fused.SILU_ADDNORM, DType.BF16, 4));
        assertEquals("gemv silu", Gemv.Fused.SILU.label());
        assertEquals("gemv addnorm", Gemv.Fused.ADDNORM.label());
        assertEquals("gemv silu+addnorm", Gemv.Fused.SILU_ADDNORM.label());
        // the epilogue's norm-weight type travels as the DType ordinal (gemv.cu norm_weight: 0 f32, 1 f16, 2 bf16)
        assertEquals(0, DType.F32.ordinal());
        assertEquals(1, DType.F16.ordinal());
        assertEquals(2, DType.BF16.ordinal());
    }
}
