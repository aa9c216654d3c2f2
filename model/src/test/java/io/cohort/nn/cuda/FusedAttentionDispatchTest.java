package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which steps CudaTensorOps.rotaryAttention sends to the fused kernel (no GPU needed: a pure rule). */
class FusedAttentionDispatchTest {
    @Test
    void decodeStepsOfTheSplitKLayoutsAreFused() {
        for (int rows : new int[] {1, 2, 3, 16}) {
            assertTrue(CudaAttention.fusedSupports(rows, 16, 8, 64), rows + " rows, 16/8/64");
            assertTrue(CudaAttention.fusedSupports(rows, 32, 4, 64), rows + " rows, 32/4/64");
            assertTrue(CudaAttention.fusedSupports(rows, 32, 8, 128), rows + " rows, 32/8/128");
            assertTrue(CudaAttention.fusedSupports(rows, 12, 4, 80), rows + " rows, 12/4/80");
            assertTrue(CudaAttention.fusedSupports(rows, 16, 1, 64), rows + " rows, a group of 16");
        }
    }

    @Test
    void prefillAndOtherLayoutsAreNot() {
        assertFalse(CudaAttention.fusedSupports(0, 32, 8, 128), "no rows");
        assertFalse(CudaAttention.fusedSupports(CudaAttention.SPLIT_MAX_ROWS + 1, 32, 8, 128), "prefill");
        assertFalse(CudaAttention.fusedSupports(1, 20, 1, 64), "a group of 20");
        assertFalse(CudaAttention.fusedSupports(1, 8, 2, 66), "head_dim not a multiple of 4");
        assertFalse(CudaAttention.fusedSupports(1, 8, 2, 256), "head_dim past ATTN_MAX_D");
        assertFalse(CudaAttention.fusedSupports(1, 12, 5, 64), "heads do not group");
    }
}
