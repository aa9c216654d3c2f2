package io.cohort.cuda.topology;

import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.CudaStream;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Measures one direction of a P2P pair with cuMemcpyPeerAsync: the median of small (4 KiB) copies for
 * latency and of large copies for bandwidth. Cached per process: the links do not change.
 */
public final class LinkProbe {

    /** GB/s (10^9 bytes per second) and microseconds. */
    public record Result(double bandwidthGBps, double latencyUs) {
    }

    private static final Map<String, Result> CACHE = new ConcurrentHashMap<>();
    private static final long SMALL = 4096;
    private static final int REPEATS = 7;

    private LinkProbe() {
    }

    public static Result measure(CudaDevice from, CudaDevice to, long largeBytes) {
        return CACHE.computeIfAbsent(from.ordinal() + "->" + to.ordinal() + ":" + largeBytes, k -> run(from, to, largeBytes));
    }

    private static Result run(CudaDevice from, CudaDevice to, long largeBytes) {
        CudaBuffer src = from.allocate(largeBytes);
        CudaBuffer dst = to.allocate(largeBytes);
        try (CudaStream stream = from.createStream();
             CudaEvent start = from.createTimingEvent();
             CudaEvent stop = from.createTimingEvent()) {
            stream.copy(src, 0, dst, 0, largeBytes);   // warm-up: first peer copy maps the pages
            stream.synchronize();
            double latencyMs = median(stream, start, stop, src, dst, SMALL, 20);
            double largeMs = median(stream, start, stop, src, dst, largeBytes, 1);
            return new Result(largeBytes / (largeMs * 1e6), latencyMs * 1e3);
        } finally {
            from.free(src);
            to.free(dst);
        }
    }

    /** Median over REPEATS of the time per copy, timing {@code batch} back-to-back copies each. */
    private static double median(CudaStream stream, CudaEvent start, CudaEvent stop, CudaBuffer src, CudaBuffer dst,
                                 long bytes, int batch) {
        double[] ms = new double[REPEATS];
        for (int i = 0; i < REPEATS; i++) {
            stream.record(start);
            for (int j = 0; j < batch; j++) {
                stream.copy(src, 0, dst, 0, bytes);
            }
            stream.record(stop);
            stream.synchronize();
            ms[i] = stop.elapsedMillis(start) / batch;
        }
        Arrays.sort(ms);
        return ms[REPEATS / 2];
    }
}
