package io.cohort.exec;

import io.cohort.device.DeviceBuffer;

/**
 * A plan step resolved to concrete buffers and byte offsets: what a rank's stream is given per call.
 * Built once per binding, so enqueueing a bound plan allocates nothing.
 */
sealed interface BoundOp {

    record Copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) implements BoundOp {
    }

    record Combine(DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset, DeviceBuffer dst, long dstOffset,
                   long count) implements BoundOp {
    }

    record Scale(DeviceBuffer buf, long offset, long count) implements BoundOp {
    }

    /** writeValue(flags, offset, seq). */
    record Signal(DeviceBuffer flags, long offset) implements BoundOp {
    }

    /** waitValue(flags, offset, seq). */
    record Wait(DeviceBuffer flags, long offset) implements BoundOp {
    }
}
