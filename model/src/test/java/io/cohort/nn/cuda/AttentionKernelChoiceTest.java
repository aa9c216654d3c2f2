package io.cohort.nn.cuda;

import static io.cohort.nn.cuda.CudaAttention.Kernel.DECODE;
import static io.cohort.nn.cuda.CudaAttention.Kernel.ONLINE;
import static io.cohort.nn.cuda.CudaAttention.Kernel.PER_HEAD;
import static io.cohort.nn.cuda.CudaAttention.Kernel.PREFILL_TC;
import static io.cohort.nn.cuda.CudaAttention.Kernel.SPLIT_K;
import static io.cohort.nn.cuda.CudaAttention.kernelFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which attention kernel CudaAttention.kernelFor picks for which shape (a pure rule: no GPU needed). */
class AttentionKernelChoiceTest {
    @Test
    void decodeTakesSplitKAndPrefillTheTensorCores() {
        for (int rows : new int[] {1, 3, 16}) {
            assertEquals(SPLIT_K, kernelFor(rows, 32, 8, 128, 1024, true, true, false), rows + " rows");
        }
        for (int rows : new int[] {17, 33, 100, 128, 512, 4096}) {
            assertEquals(PREFILL_TC, kernelFor(rows, 32, 8, 128, 1024, true, true, false), "8B, " + rows + " rows");
            assertEquals(PREFILL_TC, kernelFor(rows, 32, 4, 64, 1024, true, true, false), "TinyLlama, " + rows + " rows");
            assertEquals(PREFILL_TC, kernelFor(rows, 16, 8, 64, 1024, true, true, false), "8x1024, " + rows + " rows");
        }
        assertEquals(PREFILL_TC, kernelFor(512, 64, 1, 128, 1024, true, true, false), "a group of 64 heads: one row a tile");
    }

    /** One row on a cache of up to DECODE_MAX_SEQ positions with heads of 64 or 128: the one-launch kernel. */
    @Test
    void oneRowTakesTheDecodeKernelOnShortCaches() {
        assertEquals(DECODE, kernelFor(1, 32, 8, 128, 1024, true, true, true), "8B");
        assertEquals(DECODE, kernelFor(1, 32, 4, 64, 2048, true, true, true), "TinyLlama");
        assertEquals(DECODE, kernelFor(1, 16, 8, 64, 32, true, true, true), "8x1024");
        assertEquals(DECODE, kernelFor(1, 64, 1, 128, 1024, true, true, true), "a group of 64 heads");
        assertEquals(SPLIT_K, kernelFor(1, 32, 8, 128, 2049, true, true, true), "a long cache");
        assertEquals(SPLIT_K, kernelFor(2, 32, 8, 128, 1024, true, true, true), "two rows");
        assertEquals(SPLIT_K, kernelFor(1, 32, 8, 96, 1024, true, true, true), "head_dim 96");
        assertEquals(SPLIT_K, kernelFor(1, 32, 8, 128, 1024, true, true, false), "turned off");
        assertEquals(PER_HEAD, kernelFor(1, 32, 8, 128, 1024, false, true, true), "unaligned");
    }

    @Test
    void layoutsTheTensorCoresDoNotTakeFallBack() {
        assertEquals(ONLINE, kernelFor(512, 32, 8, 128, 1024, true, false, false), "simt forced / no kernel");
        assertEquals(ONLINE, kernelFor(100, 12, 4, 80, 1024, true, true, false), "head_dim 80");
        assertEquals(ONLINE, kernelFor(100, 8, 8, 32, 1024, true, true, false), "head_dim 32");
        assertEquals(ONLINE, kernelFor(100, 8, 8, 96, 1024, true, true, false), "head_dim 96");
        assertEquals(PER_HEAD, kernelFor(512, 32, 8, 128, 1024, false, true, false), "unaligned");
        assertEquals(PER_HEAD, kernelFor(4, 32, 8, 128, 1024, false, true, false), "unaligned decode");
        assertEquals(PER_HEAD, kernelFor(100, 8, 8, 256, 1024, true, true, false), "head_dim 256");
        assertEquals(PER_HEAD, kernelFor(100, 128, 1, 128, 1024, true, true, false), "a group of 128 heads");
        assertEquals(PER_HEAD, kernelFor(8, 128, 1, 128, 1024, true, true, false), "decode, a group of 128 heads");
    }

    @Test
    void tensorCoreLimits() {
        assertTrue(CudaAttention.prefillTcSupports(32, 8, 128));
        assertTrue(CudaAttention.prefillTcSupports(32, 4, 64));
        assertTrue(CudaAttention.prefillTcSupports(12, 4, 64));   // group 3: 21 rows (63 query vectors) a tile
        assertFalse(CudaAttention.prefillTcSupports(12, 4, 80));
        assertFalse(CudaAttention.prefillTcSupports(32, 0, 128));
        assertFalse(CudaAttention.prefillTcSupports(32, 6, 128));
        assertFalse(CudaAttention.prefillTcSupports(65, 1, 64));
        // the kernel's layout (nn_kernels.cu tc_smem_floats): K [64][d+4], V [64][d+8], S [4][16][68], factors [4][16]
        assertEquals(4 * (64 * 132 + 64 * 136 + 4 * 16 * 68 + 64), NnKernels.tcSharedBytes(128));
        assertEquals(86272, NnKernels.tcSharedBytes(128));
        assertEquals(53504, NnKernels.tcSharedBytes(64));
    }
}
