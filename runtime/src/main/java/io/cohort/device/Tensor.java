package io.cohort.device;

import io.cohort.core.DType;

/** A flat run of {@code count} elements of {@code dtype} at the start of {@code buffer}: what ranks pass to collectives. */
public record Tensor(DeviceBuffer buffer, DType dtype, long count) {
    public Tensor {
        if (count < 0) {
            throw new IllegalArgumentException("negative element count " + count);
        }
        if (buffer == null) {
            throw new IllegalArgumentException("tensor without a buffer");
        }
        if (count * dtype.bytes() > buffer.byteSize()) {
            throw new IllegalArgumentException(count + " x " + dtype + " = " + count * dtype.bytes()
                    + " bytes do not fit a buffer of " + buffer.byteSize() + " bytes on " + buffer.device().name());
        }
    }

    public long byteSize() {
        return count * dtype.bytes();
    }

    public Device device() {
        return buffer.device();
    }
}
