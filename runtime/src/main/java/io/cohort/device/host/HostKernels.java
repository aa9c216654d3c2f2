package io.cohort.device.host;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element loops of the host device: reduce and scale over off-heap memory. f32 runs on the Vector API;
 * f16 and bf16 widen each element to float, combine in float and round back to nearest-even, the way GPU
 * kernels do (float has more than 2p+2 bits for both half types, so the double rounding is exact).
 * Offsets are in bytes, counts in elements.
 */
final class HostKernels {

    private static final VectorSpecies<Float> F32 = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private HostKernels() {
    }

    static void reduce(DType type, ReduceOp op, MemorySegment a, long aOff, MemorySegment b, long bOff,
                       MemorySegment dst, long dstOff, long count) {
        ReduceOp pairwise = op.pairwise();
        switch (type) {
            case F32 -> reduceF32(pairwise, a, aOff, b, bOff, dst, dstOff, count);
            case F16 -> reduceF16(pairwise, a, aOff, b, bOff, dst, dstOff, count);
            case BF16 -> reduceBf16(pairwise, a, aOff, b, bOff, dst, dstOff, count);
        }
    }

    static void scale(DType type, MemorySegment buf, long off, long count, float factor) {
        switch (type) {
            case F32 -> {
                long i = 0;
                long bound = F32.loopBound(count);
                for (; i < bound; i += F32.length()) {
                    long at = off + i * 4;
                    FloatVector.fromMemorySegment(F32, buf, at, ORDER).mul(factor).intoMemorySegment(buf, at, ORDER);
                }
                for (; i < count; i++) {
                    long at = off + i * 4;
                    buf.set(FLOAT, at, buf.get(FLOAT, at) * factor);
                }
            }
            case F16 -> {
                for (long i = 0; i < count; i++) {
                    long at = off + i * 2;
                    buf.set(SHORT, at, Float.floatToFloat16(Float.float16ToFloat(buf.get(SHORT, at)) * factor));
                }
            }
            case BF16 -> {
                for (long i = 0; i < count; i++) {
                    long at = off + i * 2;
                    buf.set(SHORT, at, DType.floatToBf16(DType.bf16ToFloat(buf.get(SHORT, at)) * factor));
                }
            }
        }
    }

    private static void reduceF32(ReduceOp op, MemorySegment a, long aOff, MemorySegment b, long bOff,
                                  MemorySegment dst, long dstOff, long count) {
        VectorOperators.Binary vop = switch (op) {
            case SUM, AVG -> VectorOperators.ADD;
            case MAX -> VectorOperators.MAX;
            case MIN -> VectorOperators.MIN;
        };
        long i = 0;
        long bound = F32.loopBound(count);
        for (; i < bound; i += F32.length()) {
            long bytes = i * 4;
            FloatVector va = FloatVector.fromMemorySegment(F32, a, aOff + bytes, ORDER);
            FloatVector vb = FloatVector.fromMemorySegment(F32, b, bOff + bytes, ORDER);
            va.lanewise(vop, vb).intoMemorySegment(dst, dstOff + bytes, ORDER);
        }
        for (; i < count; i++) {
            long bytes = i * 4;
            dst.set(FLOAT, dstOff + bytes, op.combine(a.get(FLOAT, aOff + bytes), b.get(FLOAT, bOff + bytes)));
        }
    }

    private static void reduceF16(ReduceOp op, MemorySegment a, long aOff, MemorySegment b, long bOff,
                                  MemorySegment dst, long dstOff, long count) {
        for (long i = 0; i < count; i++) {
            long bytes = i * 2;
            float x = Float.float16ToFloat(a.get(SHORT, aOff + bytes));
            float y = Float.float16ToFloat(b.get(SHORT, bOff + bytes));
            dst.set(SHORT, dstOff + bytes, Float.floatToFloat16(op.combine(x, y)));
        }
    }

    private static void reduceBf16(ReduceOp op, MemorySegment a, long aOff, MemorySegment b, long bOff,
                                   MemorySegment dst, long dstOff, long count) {
        for (long i = 0; i < count; i++) {
            long bytes = i * 2;
            float x = DType.bf16ToFloat(a.get(SHORT, aOff + bytes));
            float y = DType.bf16ToFloat(b.get(SHORT, bOff + bytes));
            dst.set(SHORT, dstOff + bytes, DType.floatToBf16(op.combine(x, y)));
        }
    }
}
