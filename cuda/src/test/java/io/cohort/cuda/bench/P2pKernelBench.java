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
import io.cohort.cuda.p2p.CudaP2pBackendProvider;
import io.cohort.cuda.topology.CudaTopologyDetector;
import java.io.IOException;
import io.cohort.cuda.Gpu;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Kernel time of the P2P all-reduce paths with n VIRTUAL ranks on ONE GPU (all ranks read the same HBM:
 * these are not NVLink figures), against a cuMemcpy device-to-device baseline of the same size.
 * usage: P2pKernelBench [out-file]
 */
public final class P2pKernelBench {

    private static final long[] SIZES = {4 << 10, 32 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20};
    private static final int[] RANKS = {2, 4, 8};

    public static void main(String[] args) throws IOException {
        CudaDevice d = CudaDevices.open(0);
        StringBuilder out = new StringBuilder();
        out.append("# P2P all-reduce kernels, VIRTUAL ranks on one GPU (not NVLink numbers)\n")
                .append("# device: ").append(d.name()).append(", ").append(d.multiprocessors()).append(" SMs, date ")
                .append(Instant.now()).append("\n# bf16 sum; time = median of 5 runs of back-to-back calls, CUDA events\n");
        out.append(String.format("%-10s %-9s %5s %12s %12s %12s%n", "bytes", "path", "ranks", "time_us", "algbw_GB/s",
                "memcpy_us"));
        for (long bytes : SIZES) {
            double copyUs = memcpyUs(d, bytes);
            for (int n : RANKS) {
                for (String path : new String[]{"one-shot", "two-shot"}) {
                    if (path.equals("one-shot") && bytes > (4 << 20)) {
                        continue;
                    }
                    double us = allReduceUs(d, n, path, bytes);
                    out.append(String.format("%-10d %-9s %5d %12.2f %12.1f %12.2f%n", bytes, path, n, us, bytes / us / 1e3, copyUs));
                    System.out.print(out.substring(out.lastIndexOf("\n", out.length() - 2) + 1));
                }
            }
        }
        System.out.println();
        System.out.println(out);
        if (args.length > 0) {
            Files.writeString(Path.of(args[0]), out.toString());
        }
    }

    private static double memcpyUs(CudaDevice d, long bytes) {
        CudaBuffer a = d.allocate(bytes);
        CudaBuffer b = d.allocate(bytes);
        try (Arena arena = Arena.ofConfined(); CudaStream s0 = d.createStream()) {
            s0.copyFromHost(Gpu.random(arena, DType.BF16, bytes / 2, new java.util.Random()), a, 0);
            s0.synchronize();
        }
        try (CudaStream s = d.createStream(); CudaEvent start = d.createTimingEvent(); CudaEvent stop = d.createTimingEvent()) {
            int iters = iterations(bytes);
            double[] runs = new double[5];
            for (int rep = 0; rep < runs.length + 1; rep++) {
                s.record(start);
                for (int i = 0; i < iters; i++) {
                    s.copy(a, 0, b, 0, bytes);
                }
                s.record(stop);
                s.synchronize();
                if (rep > 0) {
                    runs[rep - 1] = stop.elapsedMillis(start) * 1e3 / iters;
                }
            }
            return median(runs);
        } finally {
            d.free(a);
            d.free(b);
        }
    }

    private static double allReduceUs(CudaDevice d, int n, String path, long bytes) {
        List<CudaStream> streams = new ArrayList<>();
        List<RankContext> ranks = new ArrayList<>();
        List<CudaBuffer> bufs = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            CudaStream s = d.createStream();
            streams.add(s);
            ranks.add(new RankContext(r, d, s, null));
            bufs.add(d.allocate(bytes));
            try (Arena arena = Arena.ofConfined()) {   // random data: zeros can run faster than real data
                s.copyFromHost(Gpu.random(arena, DType.BF16, bytes / 2, new java.util.Random()), bufs.get(r), 0);
                s.synchronize();
            }
        }
        List<CudaDevice> devices = Collections.nCopies(n, d);
        GroupContext group = new GroupContext(new CudaTopologyDetector(false, 0).detect(devices), ranks,
                ConfigFactory.parseString("cuda.p2p.algorithm = " + path));
        CollectiveBackend backend = new CudaP2pBackendProvider().create(group);
        CollectiveCall call = CollectiveCall.allReduce(DType.BF16, ReduceOp.SUM, bytes / 2);
        try (CudaStream timer = d.createStream(); CudaEvent start = d.createTimingEvent(); CudaEvent stop = d.createTimingEvent()) {
            List<CudaEvent> ends = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                ends.add(d.createEvent());
            }
            int iters = iterations(bytes);
            long seq = 0;
            double[] runs = new double[5];
            for (int rep = 0; rep < runs.length + 1; rep++) {
                timer.record(start);
                for (CudaStream s : streams) {
                    s.waitFor(start);
                }
                for (int i = 0; i < iters; i++) {
                    seq++;
                    for (int r = 0; r < n; r++) {
                        backend.enqueue(r, seq, call, bufs.get(r), bufs.get(r));
                    }
                }
                for (int r = 0; r < n; r++) {
                    streams.get(r).record(ends.get(r));
                    timer.waitFor(ends.get(r));
                }
                timer.record(stop);
                timer.synchronize();
                if (rep > 0) {
                    runs[rep - 1] = stop.elapsedMillis(start) * 1e3 / iters;
                }
            }
            ends.forEach(CudaEvent::close);
            return median(runs);
        } finally {
            backend.close();
            for (int r = 0; r < n; r++) {
                d.free(bufs.get(r));
                streams.get(r).close();
            }
        }
    }

    private static int iterations(long bytes) {
        return bytes <= (1 << 20) ? 200 : bytes <= (16 << 20) ? 20 : 5;
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
