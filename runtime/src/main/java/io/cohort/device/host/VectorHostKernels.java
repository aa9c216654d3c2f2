package io.cohort.device.host;

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
 * The element loops of the host device: reduce and scale over off-heap memory. f32 and bf16 run on the
 * Vector API (bf16 is the top half of a float, so widening is a shift and narrowing an integer
 * round-to-nearest-even); f16 goes element by element through {@link Float#float16ToFloat}, which the JIT
 * maps to F16C. Half types combine in float and round back once per operation, the way GPU kernels do
 * (float has at least 2p+2 bits for both half types, so rounding twice, to float then to half, is exact).
 * Offsets are in bytes, counts in elements. Loaded only when jdk.incubator.vector is in the boot layer
 * (see {@link HostKernels}).
 */
final class VectorHostKernels {

    private static final VectorSpecies<Float> F32 = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I32 = VectorSpecies.of(int.class, F32.vectorShape());
    /** As many 16-bit lanes as F32 has floats; null (scalar bf16) where vectors are too narrow to halve. */
    private static final VectorSpecies<Short> I16 = F32.vectorBitSize() >= 128
            ? VectorSpecies.of(short.class, VectorShape.forBitSize(F32.vectorBitSize() / 2)) : null;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private VectorHostKernels() {
    }

    /** dst = a op b for {@code count} elements (AVG combines as SUM); dst may alias a or b. */
    static void reduce(DType type, ReduceOp op, MemorySegment a, long aOff, MemorySegment b, long bOff,
                       MemorySegment dst, long dstOff, long count) {
        ReduceOp pairwise = op.pairwise();
        switch (type) {
            case F32 -> reduceF32(pairwise, a, aOff, b, bOff, dst, dstOff, count);
            case F16 -> reduceF16(pairwise, a, aOff, b, bOff, dst, dstOff, count);
            case BF16 -> reduceBf16(pairwise, a, aOff, b, bOff, dst, dstOff, count);
        }
    }

    /** buf *= factor for {@code count} elements, rounding to the type once. */
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
                long i = 0;
                long bound = I16 != null ? F32.loopBound(count) : 0;
                for (; i < bound; i += F32.length()) {
                    long at = off + i * 2;
                    storeBf16(loadBf16(buf, at).mul(factor), buf, at);
                }
                for (; i < count; i++) {
                    long at = off + i * 2;
                    buf.set(SHORT, at, DType.floatToBf16(DType.bf16ToFloat(buf.get(SHORT, at)) * factor));
                }
            }
        }
    }

    private static void reduceF32(ReduceOp op, MemorySegment a, long aOff, MemorySegment b, long bOff,
                                  MemorySegment dst, long dstOff, long count) {
        long i = 0;
        long bound = F32.loopBound(count);
        for (; i < bound; i += F32.length()) {
            long bytes = i * 4;
            FloatVector va = FloatVector.fromMemorySegment(F32, a, aOff + bytes, ORDER);
            FloatVector vb = FloatVector.fromMemorySegment(F32, b, bOff + bytes, ORDER);
            combine(op, va, vb).intoMemorySegment(dst, dstOff + bytes, ORDER);
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
        long i = 0;
        long bound = I16 != null ? F32.loopBound(count) : 0;
        for (; i < bound; i += F32.length()) {
            long bytes = i * 2;
            FloatVector x = loadBf16(a, aOff + bytes);
            FloatVector y = loadBf16(b, bOff + bytes);
            storeBf16(combine(op, x, y), dst, dstOff + bytes);
        }
        for (; i < count; i++) {
            long bytes = i * 2;
            float x = DType.bf16ToFloat(a.get(SHORT, aOff + bytes));
            float y = DType.bf16ToFloat(b.get(SHORT, bOff + bytes));
            dst.set(SHORT, dstOff + bytes, DType.floatToBf16(op.combine(x, y)));
        }
    }

    /**
     * a op b lane by lane (AVG adds; its scale comes later). Each branch names its operation, so the JIT
     * intrinsifies it whatever {@code op} is; a {@code lanewise(op, ...)} with an operator only known at run
     * time falls back to scalar Java code, about ten times slower.
     */
    private static FloatVector combine(ReduceOp op, FloatVector a, FloatVector b) {
        return switch (op) {
            case SUM, AVG -> a.add(b);
            case MAX -> a.max(b);
            case MIN -> a.min(b);
        };
    }

    /** bf16 lanes to floats: zero-extend, shift into the high half. */
    private static FloatVector loadBf16(MemorySegment seg, long offset) {
        ShortVector s = ShortVector.fromMemorySegment(I16, seg, offset, ORDER);
        IntVector i = (IntVector) s.convertShape(VectorOperators.S2I, I32, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** Floats to bf16 lanes with round-to-nearest-even; NaN stays a quiet NaN (as {@link DType#floatToBf16}). */
    private static void storeBf16(FloatVector f, MemorySegment seg, long offset) {
        IntVector bits = f.reinterpretAsInts();
        IntVector high = bits.lanewise(VectorOperators.LSHR, 16);
        IntVector rounded = bits.add(0x7fff).add(high.and(1)).lanewise(VectorOperators.LSHR, 16);
        VectorMask<Integer> nan = f.test(VectorOperators.IS_NAN).cast(I32);
        IntVector out = rounded.blend(high.or(0x0040), nan);
        ((ShortVector) out.convertShape(VectorOperators.I2S, I16, 0)).intoMemorySegment(seg, offset, ORDER);
    }
}
