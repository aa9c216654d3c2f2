package io.cohort.testing;

import io.cohort.core.DType;
import io.cohort.device.DeviceBuffer;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** Random inputs that are exactly representable in the dtype, and copies between float[] and buffers. */
public final class RandomData {
    private RandomData() {
    }

    /** {@code count} values uniform in [-1, 1), rounded to {@code dtype}. */
    public static float[] uniform(SplittableRandom random, DType dtype, int count) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) {
            x[i] = dtype.round((float) (random.nextDouble() * 2 - 1));
        }
        return x;
    }

    /** One {@link #uniform} array per rank, each from its own seed. */
    public static float[][] perRank(long seed, DType dtype, int ranks, int count) {
        float[][] x = new float[ranks][];
        for (int r = 0; r < ranks; r++) {
            x[r] = uniform(new SplittableRandom(seed * 31 + r), dtype, count);
        }
        return x;
    }

    /** Small integers (exact in every dtype, sums exact while below 256): for bit-exact checks. */
    public static float[] integers(SplittableRandom random, int count, int bound) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) {
            x[i] = random.nextInt(-bound, bound + 1);
        }
        return x;
    }

    /** Writes {@code values} as {@code dtype} elements at the start of {@code seg}. */
    public static void write(MemorySegment seg, DType dtype, float[] values) {
        for (int i = 0; i < values.length; i++) {
            dtype.set(seg, i, values[i]);
        }
    }

    public static void write(DeviceBuffer buffer, DType dtype, float[] values) {
        write(buffer.segment(), dtype, values);
    }

    /** Reads {@code count} {@code dtype} elements from the start of {@code seg}. */
    public static float[] read(MemorySegment seg, DType dtype, int count) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) {
            x[i] = dtype.get(seg, i);
        }
        return x;
    }

    public static float[] read(DeviceBuffer buffer, DType dtype, int count) {
        return read(buffer.segment(), dtype, count);
    }
}
