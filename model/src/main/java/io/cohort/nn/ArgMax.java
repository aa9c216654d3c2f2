package io.cohort.nn;

/**
 * Greedy sampling's answer, the largest value of a row and its first index, packed in a long (the float's bits
 * high, the index low) so the decode loop allocates nothing. NaN never wins; a row of NaN or -inf gives index 0.
 */
public final class ArgMax {
    private ArgMax() {
    }

    public static long pack(float value, int index) {
        return (long) Float.floatToRawIntBits(value) << 32 | (index & 0xffffffffL);
    }

    public static float value(long packed) {
        return Float.intBitsToFloat((int) (packed >>> 32));
    }

    public static int index(long packed) {
        return (int) packed;
    }

    /** The first index of the largest of {@code a[from .. from + length)}, relative to from (see the class). */
    public static long of(float[] a, int from, int length) {
        int best = 0;
        float max = a[from];
        for (int i = 1; i < length; i++) {
            float v = a[from + i];
            if (v > max || (Float.isNaN(max) && !Float.isNaN(v))) {
                max = v;
                best = i;
            }
        }
        return pack(max, best);
    }

    /** {@link #of} the whole array: the index alone. */
    public static int of(float[] a) {
        return index(of(a, 0, a.length));
    }
}
