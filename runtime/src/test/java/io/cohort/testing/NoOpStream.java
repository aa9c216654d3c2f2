package io.cohort.testing;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceStream;

/** A stream that runs nothing: the base of the fakes' streams, which override what a test observes. */
public class NoOpStream implements DeviceStream {
    private final Device device;

    public NoOpStream(Device device) {
        this.device = device;
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
    }

    @Override
    public void copyFromHost(java.lang.foreign.MemorySegment src, DeviceBuffer dst, long dstOffset) {
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, java.lang.foreign.MemorySegment dst) {
    }

    @Override
    public void reduce(DType type, ReduceOp op, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                       DeviceBuffer dst, long dstOffset, long count) {
    }

    @Override
    public void scale(DType type, DeviceBuffer buf, long offset, long count, double factor) {
    }

    @Override
    public void zero(DeviceBuffer buf, long offset, long bytes) {
    }

    @Override
    public void writeValue(DeviceBuffer flags, long offset, long value) {
    }

    @Override
    public void waitValue(DeviceBuffer flags, long offset, long atLeast) {
    }

    @Override
    public void record(DeviceEvent event) {
    }

    @Override
    public void waitFor(DeviceEvent event) {
    }

    @Override
    public void synchronize() {
    }

    @Override
    public void close() {
    }
}
