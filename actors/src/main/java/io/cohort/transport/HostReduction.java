package io.cohort.transport;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise reductions on host memory: {@code dst[i] = dst[i] op src[i]}, on the Vector API. The half types
 * widen to float, combine and round back (nearest-even), as a GPU kernel would, bit for bit like DType.
 * Offsets are in bytes, counts in elements. Allocates nothing.
 */
final class HostReduction {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** As many 16-bit lanes as I has 32-bit lanes: half types widen one S vector into one I vector. */
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(I.vectorBitSize() / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private HostReduction() {
    }

    /** dst[dstOffset..] = dst op src[srcOffset..] for {@code count} elements; AVG combines as SUM. */
    static void combine(DType type, ReduceOp op, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                        long count) {
        ReduceOp pairwise = op.pairwise();
        switch (type) {
            case F32 -> combineF32(pairwise, src, srcOffset, dst, dstOffset, count);
            case BF16, F16 -> combineHalf(type, pairwise, src, srcOffset, dst, dstOffset, count);
        }
    }

    // Half types: widen to float lanes, combine, narrow with round-to-nearest-even (NaN stays NaN), exactly as
    // DType.get/set do element by element; one loop per operator so the Vector API compiles each to SIMD.

    private static void combineHalf(DType type, ReduceOp op, MemorySegment src, long srcOffset, MemorySegment dst,
                                    long dstOffset, long count) {
        boolean bf16 = type == DType.BF16;
        long bytes = count * 2;
        long upper = bytes - bytes % S.vectorByteSize();
        long i = switch (op) {
            case SUM, AVG -> sumHalf(bf16, src, srcOffset, dst, dstOffset, upper);
            case MAX -> maxHalf(bf16, src, srcOffset, dst, dstOffset, upper);
            case MIN -> minHalf(bf16, src, srcOffset, dst, dstOffset, upper);
        };
        for (; i < bytes; i += 2) {
            float a = type.get(dst, (dstOffset + i) / 2);
            float b = type.get(src, (srcOffset + i) / 2);
            type.set(dst, (dstOffset + i) / 2, op.combine(a, b));
        }
    }

    private static long sumHalf(boolean bf16, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                                long upper) {
        long i = 0;
        for (; i < upper; i += S.vectorByteSize()) {
            FloatVector r = loadHalf(bf16, dst, dstOffset + i).add(loadHalf(bf16, src, srcOffset + i));
            storeHalf(bf16, r, dst, dstOffset + i);
        }
        return i;
    }

    private static long maxHalf(boolean bf16, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                                long upper) {
        long i = 0;
        for (; i < upper; i += S.vectorByteSize()) {
            FloatVector r = loadHalf(bf16, dst, dstOffset + i).max(loadHalf(bf16, src, srcOffset + i));
            storeHalf(bf16, r, dst, dstOffset + i);
        }
        return i;
    }

    private static long minHalf(boolean bf16, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                                long upper) {
        long i = 0;
        for (; i < upper; i += S.vectorByteSize()) {
            FloatVector r = loadHalf(bf16, dst, dstOffset + i).min(loadHalf(bf16, src, srcOffset + i));
            storeHalf(bf16, r, dst, dstOffset + i);
        }
        return i;
    }

    private static FloatVector loadHalf(boolean bf16, MemorySegment seg, long offset) {
        IntVector w = (IntVector) ShortVector.fromMemorySegment(S, seg, offset, LE)
                .convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
        if (bf16) {
            return w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); // bf16 = a float's upper half
        }
        // f16: shift exponent and mantissa into place and rebias by multiplying with 2^112 (exact, and it turns
        // subnormal halves into normal floats); infinities and NaNs get the all-ones float exponent
        IntVector magnitude = w.and(0x7fff);
        IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
        IntVector finite = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = magnitude.compare(VectorOperators.GE, 0x7c00);
        IntVector bits = finite.blend(shifted.or(0x7f800000), special);
        return bits.or(w.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    private static void storeHalf(boolean bf16, FloatVector value, MemorySegment seg, long offset) {
        IntVector bits = value.reinterpretAsInts();
        IntVector out;
        if (bf16) {
            IntVector lsb = bits.lanewise(VectorOperators.LSHR, 16).and(1);
            IntVector rounded = bits.add(0x7fff).add(lsb).lanewise(VectorOperators.LSHR, 16);
            VectorMask<Integer> nan = bits.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
            out = rounded.blend(bits.lanewise(VectorOperators.LSHR, 16).or(0x0040), nan);
        } else {
            IntVector sign = bits.and(0x80000000).lanewise(VectorOperators.LSHR, 16);
            IntVector f = bits.and(0x7fffffff);
            // normal range: drop 13 mantissa bits with round-to-nearest-even, rebias the exponent (15 - 127)
            IntVector odd = f.lanewise(VectorOperators.LSHR, 13).and(1);
            IntVector normal = f.add((15 - 127) << 23).add(0xfff).add(odd).lanewise(VectorOperators.LSHR, 13);
            // below the smallest normal half: adding 0.5f makes the FPU round at the subnormal half's precision
            IntVector subnormal = f.reinterpretAsFloats().add(0.5f).reinterpretAsInts().sub(0x3f000000);
            // too large for a half: infinity; NaN: a quiet NaN
            IntVector overflow = IntVector.broadcast(I, 0x7c00).blend(0x7e00, f.compare(VectorOperators.GT, 0x7f800000));
            out = normal.blend(subnormal, f.compare(VectorOperators.LT, 113 << 23))
                    .blend(overflow, f.compare(VectorOperators.GE, (127 + 16) << 23))
                    .or(sign);
        }
        ((ShortVector) out.convertShape(VectorOperators.I2S, S, 0)).intoMemorySegment(seg, offset, LE);
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
