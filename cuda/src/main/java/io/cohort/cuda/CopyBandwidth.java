package io.cohort.cuda;

import java.util.Arrays;

/**
 * The device-to-device copy bandwidth of one GPU, read + write counted: the roofline a weight-streaming decode
 * step can reach, measured in the same run as what is compared with it (cuMemcpyAsync of {@code bytes}, timed by
 * CUDA events, median of 5 batches of 5 copies after one warm-up batch).
 */
public final class CopyBandwidth {
    private CopyBandwidth() {
    }

    /** GB/s (1e9 bytes per second) of copying {@code bytes} within {@code device}, counting 2 x bytes per copy. */
    public static double measure(CudaDevice device, long bytes) {
        CudaBuffer a = device.allocate(bytes), b = device.allocate(bytes);
        try (CudaStream s = device.createStream(); CudaEvent start = device.createTimingEvent();
             CudaEvent stop = device.createTimingEvent()) {
            s.zero(a, 0, bytes);
            double[] runs = new double[5];
            for (int rep = -1; rep < runs.length; rep++) {
                s.record(start);
                for (int i = 0; i < 5; i++) {
                    s.copy(a, 0, b, 0, bytes);
                }
                s.record(stop);
                s.synchronize();
                if (rep >= 0) {
                    runs[rep] = 2.0 * bytes * 5 / (stop.elapsedMillis(start) * 1e-3) / 1e9;
                }
            }
            Arrays.sort(runs);
            return runs[runs.length / 2];
        } finally {
            device.free(a);
            device.free(b);
        }
    }
}
