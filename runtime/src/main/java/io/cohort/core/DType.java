package io.cohort.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Element types of collective buffers. Half types are stored as raw 16-bit patterns and converted with
 * round-to-nearest-even, the rounding GPUs apply, so host and device results agree bit for bit.
 */
public enum DType {
    F32(4, "float"),
    F16(2, "half"),
    BF16(2, "bfloat16");

    private static final ValueLayout.OfFloat F32_LAYOUT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16_LAYOUT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final int bytes;
    private final String cName;

    DType(int bytes, String cName) {
        this.bytes = bytes;
        this.cName = cName;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** The type's name in CUDA C, as the kernels spell it. */
    public String cName() {
        return cName;
    }

    /** Reads element {@code index} of {@code seg} as a float (exact for every type). */
    public float get(MemorySegment seg, long index) {
        return switch (this) {
            case F32 -> seg.getAtIndex(F32_LAYOUT, index);
            case F16 -> Float.float16ToFloat(seg.getAtIndex(I16_LAYOUT, index));
            case BF16 -> bf16ToFloat(seg.getAtIndex(I16_LAYOUT, index));
        };
    }

    /** Writes {@code value} rounded to this type (nearest-even) as element {@code index} of {@code seg}. */
    public void set(MemorySegment seg, long index, float value) {
        switch (this) {
            case F32 -> seg.setAtIndex(F32_LAYOUT, index, value);
            case F16 -> seg.setAtIndex(I16_LAYOUT, index, Float.floatToFloat16(value));
            case BF16 -> seg.setAtIndex(I16_LAYOUT, index, floatToBf16(value));
        }
    }

    /** Rounds {@code value} to this type and back: what storing and reloading it yields. */
    public float round(float value) {
        return switch (this) {
            case F32 -> value;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(value));
            case BF16 -> bf16ToFloat(floatToBf16(value));
        };
    }

    /** Unit roundoff (half the machine epsilon) of this type, for stating error bounds. */
    public double unitRoundoff() {
        return switch (this) {
            case F32 -> 0x1p-24;
            case F16 -> 0x1p-11;
            case BF16 -> 0x1p-8;
        };
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** float to bfloat16 with round-to-nearest-even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int lsb = (bits >>> 16) & 1;
        int rounded = bits + 0x7fff + lsb;
        return (short) (rounded >>> 16);
    }

    /** Parses "f32", "float32", "fp16", "half", "bf16", "bfloat16" (any case). */
    public static DType parse(String name) {
        return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "f32", "fp32", "float", "float32" -> F32;
            case "f16", "fp16", "half", "float16" -> F16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown dtype '" + name + "' (expected f32, f16 or bf16)");
        };
    }
}
