package io.cohort.transport.bench;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.transport.ProcessGroup;
import io.cohort.transport.TransportConfig;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.DatagramSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * All-reduce bandwidth of the native transport between processes on this host, in the style of nccl-tests
 * (algbw = bytes / time, busbw = algbw * 2(n-1)/n).
 *
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
 *        -cp cohort-actors-all.jar io.cohort.transport.bench.NativeTransportBench [--ranks 2] [--channel ipc|udp]
 *        [--sizes 1m,16m,64m] [--iters 20] [--idle backoff|yield|spin]
 * </pre>
 * Without --rank it starts the ranks as child JVMs (same java, same class path) and prints rank 0's table.
 */
public final class NativeTransportBench {

    private NativeTransportBench() {
    }

    public static void main(String[] args) throws Exception {
        int ranks = 2;
        int rank = -1;
        String channel = "ipc";
        String sizes = "1m,16m,64m";
        int iters = 20;
        String idle = "backoff";
        String group = "bench-" + ProcessHandle.current().pid();
        String endpoints = "";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--ranks" -> ranks = Integer.parseInt(args[++i]);
                case "--rank" -> rank = Integer.parseInt(args[++i]);
                case "--channel" -> channel = args[++i];
                case "--sizes" -> sizes = args[++i];
                case "--iters" -> iters = Integer.parseInt(args[++i]);
                case "--idle" -> idle = args[++i];
                case "--group" -> group = args[++i];
                case "--endpoints" -> endpoints = args[++i];
                default -> {
                    System.err.println("unknown argument " + args[i]);
                    System.exit(2);
                }
            }
        }
        if (rank < 0) {
            launch(ranks, channel, sizes, iters, idle, group);
        } else {
            run(rank, ranks, channel, sizes, iters, idle, group, endpoints);
        }
    }

    private static void launch(int ranks, String channel, String sizes, int iters, String idle, String group)
            throws IOException, InterruptedException {
        List<String> endpoints = new ArrayList<>();
        if (channel.equals("udp")) {
            for (int r = 0; r < ranks; r++) {
                try (DatagramSocket s = new DatagramSocket(0)) {
                    endpoints.add("127.0.0.1:" + s.getLocalPort());
                }
            }
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> children = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            List<String> cmd = List.of(java, "-Xmx2g", "--enable-native-access=ALL-UNNAMED", "--add-modules",
                    "jdk.incubator.vector", "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "--add-opens",
                    "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    NativeTransportBench.class.getName(), "--rank", Integer.toString(r), "--ranks",
                    Integer.toString(ranks), "--channel", channel, "--sizes", sizes, "--iters", Integer.toString(iters),
                    "--idle", idle, "--group", group, "--endpoints", endpoints.isEmpty() ? "-" : String.join(",", endpoints));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            if (r == 0) {
                pb.inheritIO();
            } else {
                pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT);
            }
            children.add(pb.start());
        }
        int worst = 0;
        for (Process p : children) {
            worst = Math.max(worst, p.waitFor());
        }
        System.exit(worst);
    }

    private static void run(int rank, int ranks, String channel, String sizes, int iters, String idle, String group,
                            String endpoints) {
        TransportConfig config = TransportConfig.from(com.typesafe.config.ConfigFactory.parseString(
                "cohort.transport { idle = " + idle + ", progress-timeout = 60s }")).withMember(group, rank, ranks);
        if (channel.equals("udp")) {
            config = config.withUdp(List.of(endpoints.split(",")));
        }
        try (ProcessGroup g = ProcessGroup.join(config); Arena arena = Arena.ofConfined()) {
            if (rank == 0) {
                System.out.printf(Locale.ROOT, "# native transport all-reduce, f32 sum, %d processes over %s, frames of %d bytes%n",
                        ranks, channel, g.maxPieceBytes());
                System.out.printf(Locale.ROOT, "%12s %10s %12s %10s %10s%n", "bytes", "iters", "time(us)", "algbw", "busbw");
            }
            warmUp(g, arena);
            for (String s : sizes.split(",")) {
                long bytes = parseBytes(s);
                long count = bytes / 4;
                MemorySegment buf = arena.allocate(bytes, 64);
                buf.fill((byte) 0);
                int warmup = Math.max(2, iters / 5);
                for (int i = 0; i < warmup; i++) {
                    g.allReduce(buf, DType.F32, ReduceOp.SUM, count);
                }
                g.barrier();
                long start = System.nanoTime();
                for (int i = 0; i < iters; i++) {
                    g.allReduce(buf, DType.F32, ReduceOp.SUM, count);
                }
                double seconds = (System.nanoTime() - start) / 1e9 / iters;
                double algbw = bytes / seconds / 1e9;
                double busbw = algbw * Collective.ALL_REDUCE.busBandwidthFactor(ranks);
                if (rank == 0) {
                    System.out.printf(Locale.ROOT, "%12d %10d %12.1f %8.2f GB/s %6.2f GB/s%n", bytes, iters,
                            seconds * 1e6, algbw, busbw);
                }
            }
        }
    }

    /** Lets the JIT compile the hot path (copies, vector reductions, polling) before anything is timed. */
    private static void warmUp(ProcessGroup g, Arena arena) {
        long count = (1L << 20) / 4;
        MemorySegment buf = arena.allocate(count * 4, 64);
        buf.fill((byte) 0);
        for (int i = 0; i < 200; i++) {
            g.allReduce(buf, DType.F32, ReduceOp.SUM, count);
        }
    }

    private static long parseBytes(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long unit = 1;
        if (t.endsWith("k")) {
            unit = 1L << 10;
        } else if (t.endsWith("m")) {
            unit = 1L << 20;
        } else if (t.endsWith("g")) {
            unit = 1L << 30;
        }
        if (unit != 1) {
            t = t.substring(0, t.length() - 1);
        }
        return Long.parseLong(t) * unit;
    }
}
