package io.cohort.model;

import io.cohort.core.DType;
import java.util.Arrays;
import java.util.Locale;

/**
 * One tensor of a safetensors file: its dtype as the file spells it ("BF16", "F32", ...), its shape, and its
 * bytes {@code [begin, end)} relative to the start of the data section.
 */
public record TensorInfo(String name, String dtypeName, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long elements() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long byteSize() {
        return end - begin;
    }

    /** The dtype as Cohort computes with it; F32, F16 and BF16 only. */
    public DType dtype() {
        return switch (dtypeName) {
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            default -> throw new ModelException("tensor '" + name + "' has dtype " + dtypeName
                    + "; Cohort loads F32, F16 and BF16 tensors");
        };
    }

    /** Bytes per element of a safetensors dtype name, or -1 if unknown. */
    static int elementBytes(String dtypeName) {
        return switch (dtypeName.toUpperCase(Locale.ROOT)) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
            default -> -1;
        };
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtypeName.equals(t.dtypeName)
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtypeName + shapeString();
    }
}
