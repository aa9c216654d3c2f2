package io.cohort.transport;

import io.cohort.device.host.HostKernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The host kernels against a scalar loop of DType.get/set and ReduceOp.combine, at odd offsets and lengths. */
class InPlaceReductionTest {

    @Test
    void combineMatchesScalarForEveryTypeAndOp() {
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : DType.values()) {
                for (ReduceOp op : ReduceOp.values()) {
                    for (int count : new int[] {0, 1, 3, 17, 1000}) {
                        long srcOff = 3L * type.bytes();
                        long dstOff = 5L * type.bytes();
                        MemorySegment src = arena.allocate(srcOff + count * 4L);
                        MemorySegment dst = arena.allocate(dstOff + count * 4L);
                        Scenarios.fill(src.asSlice(srcOff), type, 1, 0, count);
                        Scenarios.fill(dst.asSlice(dstOff), type, 1, 1, count);
                        float[] expected = new float[count];
                        for (int i = 0; i < count; i++) {
                            float a = Scenarios.input(type, 1, 1, i);
                            float b = Scenarios.input(type, 1, 0, i);
                            expected[i] = type.round(op.pairwise().combine(a, b));
                        }
                        HostKernels.reduce(type, op, dst, dstOff, src, srcOff, dst, dstOff, count);
                        for (int i = 0; i < count; i++) {
                            assertEquals(expected[i], type.get(dst.asSlice(dstOff), i), type + " " + op + " at " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void halfTypesRoundLikeDTypeOnSpecialValues() {
        // random bit patterns: NaNs, infinities, subnormals, values that round up to infinity
        java.util.SplittableRandom random = new java.util.SplittableRandom(5);
        int count = 4099;
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.BF16, DType.F16}) {
                for (ReduceOp op : ReduceOp.values()) {
                    MemorySegment src = arena.allocate(count * 2L);
                    MemorySegment dst = arena.allocate(count * 2L);
                    short[] a = new short[count];
                    short[] b = new short[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (short) random.nextInt();
                        b[i] = (short) random.nextInt();
                        src.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, b[i]);
                        dst.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, a[i]);
                    }
                    HostKernels.reduce(type, op, dst, 0, src, 0, dst, 0, count);
                    for (int i = 0; i < count; i++) {
                        float x = type.get(dst, i);
                        MemorySegment one = arena.allocate(4);
                        one.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0, a[i]);
                        one.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 1, b[i]);
                        float expected = type.round(op.pairwise().combine(type.get(one, 0), type.get(one, 1)));
                        if (Float.isNaN(expected)) {
                            assertEquals(true, Float.isNaN(x), type + " " + op + " at " + i);
                        } else {
                            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(x),
                                    type + " " + op + " at " + i + ": " + expected + " vs " + x);
                        }
                    }
                }
            }
        }
    }

    @Test
    void scaleRoundsOnce() {
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : DType.values()) {
                int count = 37;
                MemorySegment buf = arena.allocate(count * 4L);
                Scenarios.fill(buf, type, 9, 0, count);
                HostKernels.scale(type, buf, 0, count, 1f / 3);
                for (int i = 0; i < count; i++) {
                    float expected = type.round(Scenarios.input(type, 9, 0, i) * (1f / 3));
                    assertEquals(expected, type.get(buf, i), type + " at " + i);
                }
            }
        }
    }
}
