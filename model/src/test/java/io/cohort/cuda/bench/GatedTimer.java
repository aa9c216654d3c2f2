package io.cohort.cuda.bench;

import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.CudaStream;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Device time per call of work enqueued on one stream, without Java's launch rate in it: the stream waits behind
 * a host-released flag while a batch of calls is enqueued, then CUDA events on a timer stream time the batch.
 * Median of {@value #RUNS} batches after one warm-up batch. The benches of the decode issues share it.
 */
final class GatedTimer {
    static final int RUNS = 5;

    private final CudaDevice device;
    private final CudaStream stream;
    private final CudaStream timer;
    private final CudaEvent start, stop, end;
    private final CudaBuffer gate;
    private long gateValue;

    GatedTimer(CudaDevice device, CudaStream stream) {
        this.device = device;
        this.stream = stream;
        this.timer = device.createStream();
        this.start = device.createTimingEvent();
        this.stop = device.createTimingEvent();
        this.end = device.createEvent();
        this.gate = device.allocatePinnedHost(64);
    }

    /**
     * Microseconds per call of {@code op} (given the call's index in its batch), {@code warmups} calls first, then
     * batches of {@code calls}.
     */
    double micros(int warmups, int calls, IntConsumer op) {
        for (int i = 0; i < warmups; i++) {
            op.accept(i);
        }
        stream.synchronize();
        double[] runs = new double[RUNS];
        for (int rep = -1; rep < RUNS; rep++) {
            gateValue++;
            timer.waitValue(gate, 0, gateValue);
            timer.record(start);
            stream.waitFor(start);
            for (int i = 0; i < calls; i++) {
                op.accept(i);
            }
            stream.record(end);
            timer.waitFor(end);
            timer.record(stop);
            gate.segment().set(ValueLayout.JAVA_LONG, 0, gateValue);
            timer.synchronize();
            if (rep >= 0) {
                runs[rep] = stop.elapsedMillis(start) * 1e3 / calls;
            }
        }
        Arrays.sort(runs);
        return runs[RUNS / 2];
    }

    /**
     * GB/s of device-to-device copies of {@code bytes} on the stream, read + write counted, consecutive copies
     * between different buffers that hold at least {@code rotated} bytes together (so that none comes from L2).
     */
    double copyBandwidth(long bytes, long rotated) {
        int pairs = (int) Math.max(1, Math.min(64, (rotated + 2 * bytes - 1) / (2 * bytes)));
        CudaBuffer[] src = new CudaBuffer[pairs], dst = new CudaBuffer[pairs];
        try {
            for (int i = 0; i < pairs; i++) {
                src[i] = device.allocate(bytes);
                dst[i] = device.allocate(bytes);
                stream.zero(src[i], 0, bytes);
            }
            return 2.0 * bytes / micros(5, 20, i -> stream.copy(src[i % pairs], 0, dst[i % pairs], 0, bytes)) / 1e3;
        } finally {
            for (int i = 0; i < pairs; i++) {
                if (src[i] != null) {
                    device.free(src[i]);
                }
                if (dst[i] != null) {
                    device.free(dst[i]);
                }
            }
        }
    }

    /** GB/s of a device-to-device copy of {@code bytes} on the stream, read + write counted (one pair of buffers). */
    double copyBandwidth(long bytes) {
        return copyBandwidth(bytes, 0);
    }
}
