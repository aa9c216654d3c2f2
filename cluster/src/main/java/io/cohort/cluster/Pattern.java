package io.cohort.cluster;

/**
 * Deterministic test data: element i of global rank r for seed s. Small integers (-5..5), exact in f32, f16 and
 * bf16, so a sum over a few ranks is exact in every dtype and a reference needs nothing but arithmetic.
 */
public final class Pattern {
    private Pattern() {
    }

    public static float value(long seed, int rank, long index) {
        long h = seed * 31 + rank * 7L + index * 3;
        return (float) (Math.floorMod(h, 11L) - 5);
    }
}
