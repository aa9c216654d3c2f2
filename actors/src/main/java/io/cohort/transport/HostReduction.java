package io.cohort.transport;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
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

    private HostReduction() {
    }

    /** dst[dstOffset..] = dst op src[srcOffset..] for {@code count} elements; AVG combines as SUM. */
    static void combine(DType type, ReduceOp op, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                        long count) {
        ReduceOp pairwise = op.pairwise();
        if (type == DType.F32) {
            combineF32(pairwise, src, srcOffset, dst, dstOffset, count);
            return;
        }
        long srcIndex = srcOffset / type.bytes();
        long dstIndex = dstOffset / type.bytes();
        if (srcOffset % type.bytes() != 0 || dstOffset % type.bytes() != 0) {
            throw new IllegalArgumentException("offsets must be multiples of the element size");
        }
        for (long i = 0; i < count; i++) {
            float a = type.get(dst, dstIndex + i);
            float b = type.get(src, srcIndex + i);
            type.set(dst, dstIndex + i, pairwise.combine(a, b));
        }
    }

    private static void combineF32(ReduceOp op, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                                   long count) {
        long bytes = count * 4;
        long vectorBytes = F.vectorByteSize();
        long upper = bytes - bytes % vectorBytes;
        long i = 0;
        VectorOperators.Binary vop = switch (op) {
            case SUM, AVG -> VectorOperators.ADD;
            case MAX -> VectorOperators.MAX;
            case MIN -> VectorOperators.MIN;
        };
        for (; i < upper; i += vectorBytes) {
            FloatVector a = FloatVector.fromMemorySegment(F, dst, dstOffset + i, LE);
            FloatVector b = FloatVector.fromMemorySegment(F, src, srcOffset + i, LE);
            a.lanewise(vop, b).intoMemorySegment(dst, dstOffset + i, LE);
        }
        for (; i < bytes; i += 4) {
            float a = dst.get(F32, dstOffset + i);
            float b = src.get(F32, srcOffset + i);
            dst.set(F32, dstOffset + i, op.combine(a, b));
        }
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
