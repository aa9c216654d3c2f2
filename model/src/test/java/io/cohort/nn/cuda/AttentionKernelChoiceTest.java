package io.cohort.nn.cuda;

import static io.cohort.nn.cuda.CudaTensorOps.AttentionKernel.DECODE;
import static io.cohort.nn.cuda.CudaTensorOps.AttentionKernel.ONLINE;
import static io.cohort.nn.cuda.CudaTensorOps.AttentionKernel.PER_HEAD;
import static io.cohort.nn.cuda.CudaTensorOps.AttentionKernel.PREFILL_TC;
import static io.cohort.nn.cuda.CudaTensorOps.AttentionKernel.SPLIT_K;
import static io.cohort.nn.cuda.CudaTensorOps.attentionKernel;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which attention kernel CudaTensorOps.attention takes for which shape (a pure rule: no GPU needed). */
class AttentionKernelChoiceTest {
    @Test
    void decodeTakesSplitKAndPrefillTheTensorCores() {
        for (int rows : new int[] {1, 3, 16}) {
            assertEquals(SPLIT_K, attentionKernel(rows, 32, 8, 128, 1024, true, true, false), rows + " rows");
        }
        for (int rows : new int[] {17, 33, 100, 128, 512, 4096}) {
            assertEquals(PREFILL_TC, attentionKernel(rows, 32, 8, 128, 1024, true, true, false), "8B, " + rows + " rows");
            assertEquals(PREFILL_TC, attentionKernel(rows, 32, 4, 64, 1024, true, true, false), "TinyLlama, " + rows + " rows");
            assertEquals(PREFILL_TC, attentionKernel(rows, 16, 8, 64, 1024, true, true, false), "8x1024, " + rows + " rows");
        }
        assertEquals(PREFILL_TC, attentionKernel(512, 64, 1, 128, 1024, true, true, false), "a group of 64 heads: one row a tile");
    }

    /** One row on a cache of up to DECODE_MAX_SEQ positions with heads of 64 or 128: the one-launch kernel. */
    @Test
    void oneRowTakesTheDecodeKernelOnShortCaches() {
        assertEquals(DECODE, attentionKernel(1, 32, 8, 128, 1024, true, true, true), "8B");
        assertEquals(DECODE, attentionKernel(1, 32, 4, 64, 2048, true, true, true), "TinyLlama");
        assertEquals(DECODE, attentionKernel(1, 16, 8, 64, 32, true, true, true), "8x1024");
        assertEquals(DECODE, attentionKernel(1, 64, 1, 128, 1024, true, true, true), "a group of 64 heads");
        assertEquals(SPLIT_K, attentionKernel(1, 32, 8, 128, 2049, true, true, true), "a long cache");
        assertEquals(SPLIT_K, attentionKernel(2, 32, 8, 128, 1024, true, true, true), "two rows");
        assertEquals(SPLIT_K, attentionKernel(1, 32, 8, 96, 1024, true, true, true), "head_dim 96");
        assertEquals(SPLIT_K, attentionKernel(1, 32, 8, 128, 1024, true, true, false), "turned off");
        assertEquals(PER_HEAD, attentionKernel(1, 32, 8, 128, 1024, false, true, true), "unaligned");
    }

    @Test
    void layoutsTheTensorCoresDoNotTakeFallBack() {
        assertEquals(ONLINE, attentionKernel(512, 32, 8, 128, 1024, true, false, false), "simt forced / no kernel");
        assertEquals(ONLINE, attentionKernel(100, 12, 4, 80, 1024, true, true, false), "head_dim 80");
        assertEquals(ONLINE, attentionKernel(100, 8, 8, 32, 1024, true, true, false), "head_dim 32");
        assertEquals(ONLINE, attentionKernel(100, 8, 8, 96, 1024, true, true, false), "head_dim 96");
        assertEquals(PER_HEAD, attentionKernel(512, 32, 8, 128, 1024, false, true, false), "unaligned");
        assertEquals(PER_HEAD, attentionKernel(4, 32, 8, 128, 1024, false, true, false), "unaligned decode");
        assertEquals(PER_HEAD, attentionKernel(100, 8, 8, 256, 1024, true, true, false), "head_dim 256");
        assertEquals(PER_HEAD, attentionKernel(100, 128, 1, 128, 1024, true, true, false), "a group of 128 heads");
        assertEquals(PER_HEAD, attentionKernel(8, 128, 1, 128, 1024, true, true, false), "decode, a group of 128 heads");
    }

    @Test
    void tensorCoreLimits() {
        assertTrue(CudaTensorOps.prefillTcSupports(32, 8, 128));
        assertTrue(CudaTensorOps.prefillTcSupports(32, 4, 64));
        assertTrue(CudaTensorOps.prefillTcSupports(12, 4, 64));   // group 3: 21 rows (63 query vectors) a tile
        assertFalse(CudaTensorOps.prefillTcSupports(12, 4, 80));
        assertFalse(CudaTensorOps.prefillTcSupports(32, 0, 128));
        assertFalse(CudaTensorOps.prefillTcSupports(32, 6, 128));
        assertFalse(CudaTensorOps.prefillTcSupports(65, 1, 64));
        // the kernel's layout (nn_kernels.cu tc_smem_floats): K [64][d+4], V [64][d+8], S [4][16][68], factors [4][16]
        assertEquals(4 * (64 * 132 + 64 * 136 + 4 * 16 * 68 + 64), NnKernels.tcSharedBytes(128));
        assertEquals(86272, NnKernels.tcSharedBytes(128));
        assertEquals(53504, NnKernels.tcSharedBytes(64));
    }
}
