package io.cohort.cuda.p2p;

import io.cohort.core.DType;

/**
 * The arithmetic that sizes P2P all-reduce launches, kept pure so that every rank computes the same shape
 * (a rank's block b waits for block b of every peer: grids must match) and so that it is testable without a GPU.
 */
final class LaunchShape {
    /** Bytes of one vector unit: each thread moves 16 bytes at a time. */
    static final int UNIT = 16;

    private LaunchShape() {
    }

    /** Staging bytes per rank: {@code configured} rounded down to whole units for each of n two-shot slices. */
    static long chunkBytes(long configured, int ranks) {
        long granule = (long) UNIT * ranks;
        return Math.max(granule, configured / granule * granule);
    }

    /** Blocks of one launch: one unit per thread (per slice for two-shot), at least 1, at most {@code cap}. */
    static int grid(P2pConfig.Path path, long count, DType t, int ranks, int threads, int cap) {
        long units = (count * t.bytes() + UNIT - 1) / UNIT;
        long work = path == P2pConfig.Path.ONE_SHOT ? units : (units + ranks - 1) / ranks;
        return (int) Math.max(1, Math.min(cap, (work + threads - 1) / threads));
    }

    /** Kernel launches for {@code count} elements when one launch carries at most {@code chunkBytes}. */
    static long launches(long count, DType t, long chunkBytes) {
        long perLaunch = chunkBytes / t.bytes();
        return Math.max(1, (count + perLaunch - 1) / perLaunch);
    }
}
