package io.cohort.transport;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * One rank of a multi-process test, started by {@link MultiProcessTest} in its own JVM.
 * Arguments: group rank size channel(ipc|udp) baseDir endpoints(comma-separated or -) progressTimeoutMs scenario.
 * Prints lines starting with "COHORT " for the test to read; exits 0 when its scenario passed.
 */
public final class TransportWorker {

    public static void main(String[] args) {
        String group = args[0];
        int rank = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        String channel = args[3];
        String baseDir = args[4];
        List<String> endpoints = args[5].equals("-") ? List.of() : Arrays.asList(args[5].split(","));
        Duration timeout = Duration.ofMillis(Long.parseLong(args[6]));
        String scenario = args[7];
        TransportConfig config = TransportConfig.defaults().withMember(group, rank, size).withBaseDir(baseDir)
                .withTimeouts(Duration.ofSeconds(20), timeout);
        if (channel.equals("udp")) {
            config = config.withUdp(endpoints);
        }
        try {
            switch (scenario) {
                case "sweep" -> sweep(config, true);
                case "small" -> sweep(config, false);
                case "loop" -> loop(config, null);
                case "loop-then-rejoin" -> loop(config, config.withMember(group + "-2", rank, size));
                case "backend" -> System.out.println("COHORT OK "
                        + BackendScenario.run(group, rank, size, 2, baseDir, channel));
                case "backend-cuda" -> System.out.println("COHORT OK " + BackendScenario.runOn(
                        List.of(io.cohort.cuda.CudaDevices.open(0)), group, rank, size, baseDir, channel));
                case "backend-loop" -> System.out.println("COHORT FAILED " + BackendScenario.loopUntilFailure(group, rank,
                        size, baseDir, () -> {
                            System.out.println("COHORT READY");
                            System.out.flush();
                        }));
                default -> throw new IllegalArgumentException("unknown scenario " + scenario);
            }
            System.out.println("COHORT DONE");
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("COHORT ERROR " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    private static void sweep(TransportConfig config, boolean full) {
        try (ProcessGroup g = ProcessGroup.join(config)) {
            System.out.println("COHORT JOINED");
            int cases = Scenarios.allReduceSweep(g, full ? Scenarios.SIZES : new long[] {7, 1009},
                    full ? ReduceOp.values() : new ReduceOp[] {ReduceOp.SUM, ReduceOp.AVG});
            if (full) {
                cases += Scenarios.otherCollectives(g, new long[] {0, 1, 1009});
                cases += big(g);
            }
            System.out.println("COHORT OK " + cases);
        }
    }

    /** One ~16 MiB f32 all-reduce (4 Mi elements). */
    private static int big(ProcessGroup g) {
        long count = 4L << 20;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(count * 4, 64);
            long seed = 4242;
            Scenarios.fill(buf, DType.F32, seed, g.rank(), count);
            g.allReduce(buf, DType.F32, ReduceOp.SUM, count);
            for (long i = 0; i < count; i++) {
                Scenarios.checkReduced(buf, i, DType.F32, ReduceOp.SUM, seed, g.size(), i, "16 MiB all-reduce");
            }
        }
        return 1;
    }

    /** All-reduces until the group fails (a peer is killed); then, optionally, joins a new group and checks it. */
    private static void loop(TransportConfig config, TransportConfig next) {
        long count = 1L << 20;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(count * 4, 64);
            try (ProcessGroup g = ProcessGroup.join(config)) {
                g.allReduce(buf, DType.F32, ReduceOp.SUM, count);
                System.out.println("COHORT READY");
                System.out.flush();
                long start = System.nanoTime();
                try {
                    while (true) {
                        g.allReduce(buf, DType.F32, ReduceOp.SUM, count);
                        start = System.nanoTime();
                    }
                } catch (RuntimeException e) {
                    long ms = (System.nanoTime() - start) / 1_000_000;
                    String named = e instanceof PeerFailureException p ? " rank=" + p.peerRank() : "";
                    System.out.println("COHORT FAILED" + named + " after=" + ms + "ms " + e.getMessage());
                    System.out.flush();
                }
            }
        }
        if (next != null) {
            sweep(next, false);
        }
    }
}
