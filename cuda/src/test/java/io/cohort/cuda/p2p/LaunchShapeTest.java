package io.cohort.cuda.p2p;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.core.DType;
import org.junit.jupiter.api.Test;

/** Launch sizing of the P2P kernels (no GPU needed). */
class LaunchShapeTest {

    @Test
    void stagingHoldsWholeUnitsForEverySlice() {
        assertEquals(16L << 20, LaunchShape.chunkBytes(16L << 20, 2));
        assertEquals((16L << 20) / 48 * 48, LaunchShape.chunkBytes(16L << 20, 3));
        assertEquals(0, LaunchShape.chunkBytes(1 << 20, 7) % (16 * 7));
        assertEquals(16 * 8, LaunchShape.chunkBytes(1, 8), "never below one unit per rank");
    }

    @Test
    void gridCoversOneUnitPerThreadUpToTheCap() {
        assertEquals(1, LaunchShape.grid(P2pConfig.Path.ONE_SHOT, 1, DType.F32, 4, 512, 36));
        assertEquals(1, LaunchShape.grid(P2pConfig.Path.ONE_SHOT, 0, DType.F32, 4, 512, 36));
        // 4096 f32 = 1024 units: 2 blocks of 512 threads
        assertEquals(2, LaunchShape.grid(P2pConfig.Path.ONE_SHOT, 4096, DType.F32, 4, 512, 36));
        // two-shot: each rank covers a quarter
        assertEquals(1, LaunchShape.grid(P2pConfig.Path.TWO_SHOT, 4096, DType.F32, 4, 512, 36));
        assertEquals(36, LaunchShape.grid(P2pConfig.Path.TWO_SHOT, 64L << 20, DType.BF16, 2, 512, 36));
        assertEquals(3, LaunchShape.grid(P2pConfig.Path.ONE_SHOT, 1 << 20, DType.F16, 2, 512, 3));
    }

    @Test
    void launchesSplitLargeMessagesByTheStaging() {
        assertEquals(1, LaunchShape.launches(0, DType.F32, 1 << 20));
        assertEquals(1, LaunchShape.launches(1 << 18, DType.F32, 1 << 20));
        assertEquals(2, LaunchShape.launches((1 << 18) + 1, DType.F32, 1 << 20));
        assertEquals(4, LaunchShape.launches(32L << 20, DType.BF16, 16L << 20));
    }
}
