package io.cohort.transport;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise reductions on host memory: {@code dst[i] = dst[i] op src[i]}. f32 runs on the Vector API;
 * the half types widen to float, combine and round back (nearest-even), as a GPU kernel would.
 * Offsets are in bytes, counts in elements. Allocates nothing.
 */
final class HostReduction {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private HostReduction() {
    }

    /** dst[dstOffset..] = dst op src[srcOffset..] for {@code count} elements; AVG combines as SUM. */
    static void combine(DType type, ReduceOp op, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                        long count) {
        ReduceOp pairwise = op.pairwise();
        switch (type) {
            case F32 -> combineF32(pairwise, src, srcOffset, dst, dstOffset, count);
            case BF16 -> combineBf16(pairwise, src, srcOffset, dst, dstOffset, count);
            case F16 -> combineF16(pairwise, src, srcOffset, dst, dstOffset, count);
        }
    }

    // Half types: one loop per operator, widening to float, combining, rounding back to nearest-even; plain
    // loops over 16-bit words that the JIT keeps tight (Float.float16ToFloat/floatToFloat16 are intrinsics).

    private static void combineBf16(ReduceOp op, MemorySegment src, long srcOffset, MemorySegment dst,
                                    long dstOffset, long count) {
        switch (op) {
            case SUM, AVG -> {
                for (long i = 0; i < count * 2; i += 2) {
                    float r = DType.bf16ToFloat(dst.get(I16, dstOffset + i)) + DType.bf16ToFloat(src.get(I16, srcOffset + i));
                    dst.set(I16, dstOffset + i, DType.floatToBf16(r));
                }
            }
            case MAX -> {
                for (long i = 0; i < count * 2; i += 2) {
                    float r = Math.max(DType.bf16ToFloat(dst.get(I16, dstOffset + i)),
                            DType.bf16ToFloat(src.get(I16, srcOffset + i)));
                    dst.set(I16, dstOffset + i, DType.floatToBf16(r));
                }
            }
            case MIN -> {
                for (long i = 0; i < count * 2; i += 2) {
                    float r = Math.min(DType.bf16ToFloat(dst.get(I16, dstOffset + i)),
                            DType.bf16ToFloat(src.get(I16, srcOffset + i)));
                    dst.set(I16, dstOffset + i, DType.floatToBf16(r));
                }
            }
        }
    }

    private static void combineF16(ReduceOp op, MemorySegment src, long srcOffset, MemorySegment dst,
                                   long dstOffset, long count) {
        switch (op) {
            case SUM, AVG -> {
                for (long i = 0; i < count * 2; i += 2) {
                    float r = Float.float16ToFloat(dst.get(I16, dstOffset + i))
                            + Float.float16ToFloat(src.get(I16, srcOffset + i));
                    dst.set(I16, dstOffset + i, Float.floatToFloat16(r));
                }
            }
            case MAX -> {
                for (long i = 0; i < count * 2; i += 2) {
                    float r = Math.max(Float.float16ToFloat(dst.get(I16, dstOffset + i)),
                            Float.float16ToFloat(src.get(I16, srcOffset + i)));
                    dst.set(I16, dstOffset + i, Float.floatToFloat16(r));
                }
            }
            case MIN -> {
                for (long i = 0; i < count * 2; i += 2) {
                    float r = Math.min(Float.float16ToFloat(dst.get(I16, dstOffset + i)),
                            Float.float16ToFloat(src.get(I16, srcOffset + i)));
                    dst.set(I16, dstOffset + i, Float.floatToFloat16(r));
                }
            }
        }
    }

    private static void combineF32(ReduceOp op, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                                   long count) {
        // one loop per operator: the Vector API compiles to SIMD only when the operation is a constant
        long bytes = count * 4;
        long upper = bytes - bytes % F.vectorByteSize();
        long done = switch (op) {
            case SUM, AVG -> sumF32(src, srcOffset, dst, dstOffset, upper);
            case MAX -> maxF32(src, srcOffset, dst, dstOffset, upper);
            case MIN -> minF32(src, srcOffset, dst, dstOffset, upper);
        };
        for (long i = done; i < bytes; i += 4) {
            float a = dst.get(F32, dstOffset + i);
            float b = src.get(F32, srcOffset + i);
            dst.set(F32, dstOffset + i, op.combine(a, b));
        }
    }

    private static long sumF32(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long upper) {
        long i = 0;
        for (; i < upper; i += F.vectorByteSize()) {
            FloatVector a = FloatVector.fromMemorySegment(F, dst, dstOffset + i, LE);
            FloatVector b = FloatVector.fromMemorySegment(F, src, srcOffset + i, LE);
            a.add(b).intoMemorySegment(dst, dstOffset + i, LE);
        }
        return i;
    }

    private static long maxF32(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long upper) {
        long i = 0;
        for (; i < upper; i += F.vectorByteSize()) {
            FloatVector a = FloatVector.fromMemorySegment(F, dst, dstOffset + i, LE);
            FloatVector b = FloatVector.fromMemorySegment(F, src, srcOffset + i, LE);
            a.max(b).intoMemorySegment(dst, dstOffset + i, LE);
        }
        return i;
    }

    private static long minF32(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long upper) {
        long i = 0;
        for (; i < upper; i += F.vectorByteSize()) {
            FloatVector a = FloatVector.fromMemorySegment(F, dst, dstOffset + i, LE);
            FloatVector b = FloatVector.fromMemorySegment(F, src, srcOffset + i, LE);
            a.min(b).intoMemorySegment(dst, dstOffset + i, LE);
        }
        return i;
    }

    /** buf[offset..] *= factor for {@code count} elements, rounding to the type once. */
    static void scale(DType type, MemorySegment buf, long offset, long count, double factor) {
        float f = (float) factor;
        long index = offset / type.bytes();
        if (type == DType.F32) {
            long bytes = count * 4;
            long vectorBytes = F.vectorByteSize();
            long upper = bytes - bytes % vectorBytes;
            long i = 0;
            for (; i < upper; i += vectorBytes) {
                FloatVector.fromMemorySegment(F, buf, offset + i, LE).mul(f).intoMemorySegment(buf, offset + i, LE);
            }
            for (; i < bytes; i += 4) {
                buf.set(F32, offset + i, buf.get(F32, offset + i) * f);
            }
            return;
        }
        for (long i = 0; i < count; i++) {
            type.set(buf, index + i, type.get(buf, index + i) * f);
        }
    }
}
