package io.cohort.device.host;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The element loops of {@link HostKernels} one element at a time, for JVMs started without
 * {@code jdk.incubator.vector}. Same results as {@link VectorHostKernels}: half types combine in float and
 * round back once per operation.
 */
final class ScalarHostKernels {

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private ScalarHostKernels() {
    }

    static void reduce(DType type, ReduceOp op, MemorySegment a, long aOff, MemorySegment b, long bOff,
                       MemorySegment dst, long dstOff, long count) {
        switch (type) {
            case F32 -> {
                for (long i = 0; i < count; i++) {
                    long at = i * 4;
                    dst.set(FLOAT, dstOff + at, op.combine(a.get(FLOAT, aOff + at), b.get(FLOAT, bOff + at)));
                }
            }
            case F16 -> {
                for (long i = 0; i < count; i++) {
                    long at = i * 2;
                    float x = Float.float16ToFloat(a.get(SHORT, aOff + at));
                    float y = Float.float16ToFloat(b.get(SHORT, bOff + at));
                    dst.set(SHORT, dstOff + at, Float.floatToFloat16(op.combine(x, y)));
                }
            }
            case BF16 -> {
                for (long i = 0; i < count; i++) {
                    long at = i * 2;
                    float x = DType.bf16ToFloat(a.get(SHORT, aOff + at));
                    float y = DType.bf16ToFloat(b.get(SHORT, bOff + at));
                    dst.set(SHORT, dstOff + at, DType.floatToBf16(op.combine(x, y)));
                }
            }
        }
    }

    static void scale(DType type, MemorySegment buf, long off, long count, float factor) {
        switch (type) {
            case F32 -> {
                for (long i = 0; i < count; i++) {
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
}
