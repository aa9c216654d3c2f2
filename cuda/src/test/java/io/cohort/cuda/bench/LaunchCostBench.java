package io.cohort.cuda.bench;

import io.cohort.core.DType;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.CudaStream;
import io.cohort.cuda.KernelArgs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import jcuda.driver.CUfunction;
import org.HdrHistogram.Histogram;

/**
 * What one kernel launch costs the host on this machine (issue 13: two launches take about 9 us of the 2-rank
 * round trip), and whether launches from several threads into one context overlap: the question behind
 * launching each rank's part of a collective from a thread of its own. A small elementwise kernel (8 KiB f32
 * scale), {@value #CALLS} launches after {@value #WARMUP} warm-up launches, p50 and p99 of each:
 * <ul>
 *   <li>{@code one_stream}: back to back on one stream (a synchronize every {@value #SYNC_EVERY}, not timed);</li>
 *   <li>{@code two_streams}: alternating between two streams, as one thread enqueueing two ranks does;</li>
 *   <li>{@code programmatic}: through cuLaunchKernelEx with programmatic stream serialization;</li>
 *   <li>{@code threads_T}: T threads on streams of their own, released together once per round (as rank
 *       launchers would be): {@code launch} is one thread's launch, {@code round} the round's wall time
 *       until the last thread's launch returned.</li>
 * </ul>
 * usage: LaunchCostBench [out-file]
 */
public final class LaunchCostBench {
    private static final int WARMUP = 20_000;
    private static final int CALLS = 20_000;
    private static final int SYNC_EVERY = 128;
    private static final long COUNT = 2048;

    public static void main(String[] args) throws Exception {
        CudaDevice d = CudaDevices.open(0);
        StringBuilder out = new StringBuilder();
        out.append("# host cost of one kernel launch (8 KiB f32 scale) on ").append(d.name()).append("; ")
                .append(Instant.now()).append('\n')
                .append("# ").append(CALLS).append(" launches after ").append(WARMUP).append(" warm-up launches; us\n");
        out.append(String.format("%-14s %-8s %9s %9s%n", "case", "what", "p50_us", "p99_us"));
        List<CudaStream> streams = new ArrayList<>();
        List<CudaBuffer> bufs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            streams.add(d.createStream());
            bufs.add(d.allocate(COUNT * 4));
            streams.get(i).zero(bufs.get(i), 0, COUNT * 4);
        }
        try {
            row(out, "one_stream", "launch", single(streams, bufs, 1));
            row(out, "two_streams", "launch", single(streams, bufs, 2));
            row(out, "programmatic", "launch", programmatic(d, streams.get(0), bufs.get(0)));
            for (int t : new int[]{2, 4}) {
                Histogram[] h = threads(streams, bufs, t);
                row(out, "threads_" + t, "launch", h[0]);
                row(out, "threads_" + t, "round", h[1]);
            }
        } finally {
            for (int i = 0; i < streams.size(); i++) {
                streams.get(i).synchronize();
                d.free(bufs.get(i));
                streams.get(i).close();
            }
        }
        System.out.print(out);
        if (args.length > 0) {
            Files.writeString(Path.of(args[0]), out.toString());
        }
    }

    private static Histogram single(List<CudaStream> streams, List<CudaBuffer> bufs, int n) {
        Histogram h = histogram();
        for (int phase = 0; phase < 2; phase++) {
            int calls = phase == 0 ? WARMUP : CALLS;
            for (int i = 0; i < calls; i++) {
                int s = i % n;
                long t0 = System.nanoTime();
                streams.get(s).scale(DType.F32, bufs.get(s), 0, COUNT, 1.0);
                long t1 = System.nanoTime();
                if (phase == 1) {
                    h.recordValue(t1 - t0);
                }
                if (i % SYNC_EVERY == SYNC_EVERY - 1) {
                    for (int k = 0; k < n; k++) {
                        streams.get(k).synchronize();
                    }
                }
            }
        }
        return h;
    }

    private static Histogram programmatic(CudaDevice d, CudaStream s, CudaBuffer buf) {
        KernelArgs a = new KernelArgs(5);   // ElemArgs: a, b, dst, count, factor
        a.set(2, buf.address());
        a.set(3, COUNT);
        a.setFloat(4, 1.0f);
        CUfunction f = d.kernels().scale(DType.F32);
        int grid = (int) ((COUNT * 4 / 16 + 511) / 512);
        Histogram h = histogram();
        for (int phase = 0; phase < 2; phase++) {
            int calls = phase == 0 ? WARMUP : CALLS;
            for (int i = 0; i < calls; i++) {
                long t0 = System.nanoTime();
                d.launch(f, grid, 512, s.nativeHandle(), a, "scale", true);
                long t1 = System.nanoTime();
                if (phase == 1) {
                    h.recordValue(t1 - t0);
                }
                if (i % SYNC_EVERY == SYNC_EVERY - 1) {
                    s.synchronize();
                }
            }
        }
        return h;
    }

    /** T threads, each launching on its own stream once per round; the main thread releases the rounds. */
    private static Histogram[] threads(List<CudaStream> streams, List<CudaBuffer> bufs, int t) throws InterruptedException {
        Histogram launch = histogram(), round = histogram();
        AtomicLongArray done = new AtomicLongArray(t * 16);   // one padded word per thread: the last round it launched
        long[] launchNanos = new long[t * 16];
        int total = WARMUP + CALLS;
        java.util.concurrent.atomic.AtomicLong released = new java.util.concurrent.atomic.AtomicLong();
        List<Thread> workers = new ArrayList<>();
        for (int w = 0; w < t; w++) {
            int me = w;
            Thread th = Thread.ofPlatform().name("launcher-" + w).start(() -> {
                streams.get(me).device().makeCurrent();
                for (long r = 1; r <= total; r++) {
                    while (released.get() < r) {
                        Thread.onSpinWait();
                    }
                    long t0 = System.nanoTime();
                    streams.get(me).scale(DType.F32, bufs.get(me), 0, COUNT, 1.0);
                    launchNanos[me * 16] = System.nanoTime() - t0;
                    if (r % SYNC_EVERY == 0) {
                        streams.get(me).synchronize();
                    }
                    done.set(me * 16, r);   // publishes launchNanos
                }
            });
            workers.add(th);
        }
        for (long r = 1; r <= total; r++) {
            long t0 = System.nanoTime();
            released.set(r);
            for (int w = 0; w < t; w++) {
                while (done.get(w * 16) < r) {
                    Thread.onSpinWait();
                }
            }
            long t1 = System.nanoTime();
            if (r > WARMUP) {
                round.recordValue(t1 - t0);
                for (int w = 0; w < t; w++) {
                    launch.recordValue(launchNanos[w * 16]);
                }
            }
        }
        for (Thread th : workers) {
            th.join();
        }
        return new Histogram[]{launch, round};
    }

    private static void row(StringBuilder out, String name, String what, Histogram h) {
        out.append(String.format("%-14s %-8s %9.2f %9.2f%n", name, what, h.getValueAtPercentile(50) / 1e3,
                h.getValueAtPercentile(99) / 1e3));
    }

    private static Histogram histogram() {
        return new Histogram(3_600_000_000_000L, 3);
    }
}
