package io.cohort.cuda.bench;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.CudaStream;
import io.cohort.cuda.Gpu;
import io.cohort.cuda.p2p.CudaP2pBackendProvider;
import io.cohort.cuda.topology.CudaTopologyDetector;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Device time of the P2P all-reduce kernels with n VIRTUAL ranks on ONE GPU (every rank reads the same
 * HBM: these are not NVLink figures), next to a cuMemcpy device-to-device baseline of the same size.
 *
 * <p>Method: all streams wait behind a host-released flag while a batch of back-to-back calls is enqueued,
 * so the events time the device alone, not the host's enqueue rate (reported separately: host_us is the
 * time one thread takes to enqueue one all-reduce for all n ranks). JIT warm-up first; median of 5 batches.
 * usage: P2pKernelBench [out-file]
 */
public final class P2pKernelBench {

    private static final long[] SIZES = {4 << 10, 32 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20};
    private static final int[] RANKS = {2, 4, 8};   // (one rank is a plain copy, no kernel)
    private static final int RUNS = 5;

    private final CudaDevice d;
    private final CudaStream timer;
    private final CudaEvent start;
    private final CudaEvent stop;
    private final CudaBuffer gate;
    private long gateValue;

    private P2pKernelBench(CudaDevice d) {
        this.d = d;
        this.timer = d.createStream();
        this.start = d.createTimingEvent();
        this.stop = d.createTimingEvent();
        this.gate = d.allocatePinnedHost(64);
    }

    public static void main(String[] args) throws IOException {
        CudaDevice d = CudaDevices.open(0);
        P2pKernelBench b = new P2pKernelBench(d);
        StringBuilder out = new StringBuilder();
        out.append("# P2P all-reduce kernels, VIRTUAL ranks on one GPU (all ranks share one HBM; NOT NVLink numbers)\n")
                .append("# device: ").append(d.name()).append(", ").append(d.multiprocessors()).append(" SMs; ")
                .append(Instant.now()).append("\n# bf16 sum, in place; device_us = device time per all-reduce (flag-gated batch,")
                .append(" CUDA events, median of ").append(RUNS).append(" batches); host_us = one thread enqueueing all ranks;")
                .append(" memcpy_us = cuMemcpyAsync D2D of the same bytes\n");
        out.append(String.format("%-10s %-9s %5s %10s %11s %9s %10s%n", "bytes", "path", "ranks", "device_us",
                "algbw_GB/s", "host_us", "memcpy_us"));
        for (long bytes : SIZES) {
            double copyUs = b.memcpyUs(bytes);
            for (int n : RANKS) {
                for (String path : new String[]{"one-shot", "two-shot"}) {
                    if (path.equals("one-shot") && bytes > (4 << 20)) {
                        continue;
                    }
                    double[] r = b.allReduceUs(n, path, bytes);
                    String line = String.format("%-10d %-9s %5d %10.2f %11.1f %9.2f %10.2f%n", bytes, path, n, r[0],
                            bytes / r[0] / 1e3, r[1], copyUs);
                    out.append(line);
                    System.out.print(line);
                }
            }
        }
        System.out.println();
        System.out.println(out);
        if (args.length > 0) {
            Files.writeString(Path.of(args[0]), out.toString());
        }
    }

    /** Holds every stream in {@code streams} behind the gate, then starts the clock once released. */
    private void closeGate(List<CudaStream> streams) {
        gateValue++;
        timer.waitValue(gate, 0, gateValue);
        timer.record(start);
        for (CudaStream s : streams) {
            s.waitFor(start);
        }
    }

    private double release(List<CudaStream> streams, List<CudaEvent> ends, int iters) {
        for (int r = 0; r < streams.size(); r++) {
            streams.get(r).record(ends.get(r));
            timer.waitFor(ends.get(r));
        }
        timer.record(stop);
        gate.segment().set(ValueLayout.JAVA_LONG, 0, gateValue);
        timer.synchronize();
        return stop.elapsedMillis(start) * 1e3 / iters;
    }

    private double memcpyUs(long bytes) {
        CudaBuffer a = d.allocate(bytes);
        CudaBuffer c = d.allocate(bytes);
        try (Arena arena = Arena.ofConfined(); CudaStream s = d.createStream(); CudaEvent end = d.createEvent()) {
            s.copyFromHost(Gpu.random(arena, DType.BF16, bytes / 2, new Random()), a, 0);
            s.synchronize();
            int iters = iterations(bytes, 1);
            double[] runs = new double[RUNS];
            for (int rep = -1; rep < RUNS; rep++) {
                closeGate(List.of(s));
                for (int i = 0; i < iters; i++) {
                    s.copy(a, 0, c, 0, bytes);
                }
                double us = release(List.of(s), List.of(end), iters);
                if (rep >= 0) {
                    runs[rep] = us;
                }
            }
            return median(runs);
        } finally {
            d.free(a);
            d.free(c);
        }
    }

    /** {device us, host us} per all-reduce. */
    private double[] allReduceUs(int n, String path, long bytes) {
        List<CudaStream> streams = new ArrayList<>();
        List<RankContext> ranks = new ArrayList<>();
        List<CudaBuffer> bufs = new ArrayList<>();
        List<CudaEvent> ends = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            CudaStream s = d.createStream();
            streams.add(s);
            ends.add(d.createEvent());
            ranks.add(new RankContext(r, d, s, null));
            bufs.add(d.allocate(bytes));
            try (Arena arena = Arena.ofConfined()) {   // random data: zeros can run faster than real data
                s.copyFromHost(Gpu.random(arena, DType.BF16, bytes / 2, new Random()), bufs.get(r), 0);
                s.synchronize();
            }
        }
        GroupContext group = new GroupContext(new CudaTopologyDetector(false, 0).detect(Collections.nCopies(n, d)), ranks,
                ConfigFactory.parseString("cuda.p2p.algorithm = " + path));
        CollectiveBackend backend = new CudaP2pBackendProvider().create(group);
        // sum in place would grow without bound: max keeps values (and timing) steady
        CollectiveCall call = CollectiveCall.allReduce(DType.BF16, ReduceOp.MAX, bytes / 2);
        try {
            long seq = 0;
            for (int i = 0; i < 3000 / n; i++) {   // JIT warm-up of the enqueue path
                seq++;
                for (int r = 0; r < n; r++) {
                    backend.enqueue(r, seq, call, bufs.get(r), bufs.get(r));
                }
            }
            for (CudaStream s : streams) {
                s.synchronize();
            }
            int launches = (int) Math.max(1, bytes / (16 << 20));
            int iters = iterations(bytes, launches * n);
            double[] device = new double[RUNS];
            double[] host = new double[RUNS];
            for (int rep = -1; rep < RUNS; rep++) {
                closeGate(streams);
                long t0 = System.nanoTime();
                for (int i = 0; i < iters; i++) {
                    seq++;
                    for (int r = 0; r < n; r++) {
                        backend.enqueue(r, seq, call, bufs.get(r), bufs.get(r));
                    }
                }
                long t1 = System.nanoTime();
                double us = release(streams, ends, iters);
                if (rep >= 0) {
                    device[rep] = us;
                    host[rep] = (t1 - t0) / 1e3 / iters;
                }
            }
            return new double[]{median(device), median(host)};
        } finally {
            backend.close();
            for (int r = 0; r < n; r++) {
                d.free(bufs.get(r));
                streams.get(r).close();
                ends.get(r).close();
            }
        }
    }

    /**
     * Calls per batch: enough to time, few enough that the launches held behind the gate (all streams) stay
     * well under the driver's queue depth, where the enqueueing thread would block and never open the gate.
     */
    private static int iterations(long bytes, int launchesPerCall) {
        int iters = bytes <= (1 << 20) ? 200 : bytes <= (16 << 20) ? 40 : 10;
        return Math.max(2, Math.min(iters, 480 / launchesPerCall));
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
