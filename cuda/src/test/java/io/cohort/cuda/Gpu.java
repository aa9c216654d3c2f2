package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Helpers of the gpu tests: skip without a GPU, random data, host references, bitwise comparison. */
public final class Gpu {
    private Gpu() {
    }

    /** Device 0, or the test is skipped (assumption) where no CUDA device is usable. */
    public static CudaDevice device() {
        assumeTrue(CudaDevices.count() > 0, () -> "no CUDA device: " + CudaDevices.unavailableReason());
        return CudaDevices.open(0);
    }

    /** {@code count} random values of {@code t} in [-2, 2) (never all zero), in native memory. */
    public static MemorySegment random(Arena arena, DType t, long count, Random rnd) {
        MemorySegment s = arena.allocate(Math.max(1, count * t.bytes()), 16);
        for (long i = 0; i < count; i++) {
            t.set(s, i, rnd.nextFloat() * 4 - 2);
        }
        return s;
    }

    /** round(a op b) element-wise, as the device must compute it. */
    public static MemorySegment reference(Arena arena, DType t, ReduceOp op, MemorySegment a, MemorySegment b, long count) {
        MemorySegment out = arena.allocate(Math.max(1, count * t.bytes()), 16);
        for (long i = 0; i < count; i++) {
            t.set(out, i, op.pairwise().combine(t.get(a, i), t.get(b, i)));
        }
        return out;
    }

    /** Fails at the first differing element, naming it and both values. */
    public static void assertBitsEqual(DType t, MemorySegment expected, MemorySegment actual, long count, String what) {
        long bytes = count * t.bytes();
        long mismatch = expected.asSlice(0, bytes).mismatch(actual.asSlice(0, bytes));
        if (mismatch >= 0) {
            long i = mismatch / t.bytes();
            fail(what + ": element " + i + " of " + count + " differs: expected " + t.get(expected, i) + ", got "
                    + t.get(actual, i));
        }
    }
}
