package io.cohort.cli.cluster;

import com.typesafe.config.ConfigFactory;
import io.cohort.cluster.ClusterGroup;
import io.cohort.cluster.ClusterProtocol;
import io.cohort.cluster.Pattern;
import io.cohort.cluster.RemoteTensor;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code cohort coordinator bench}: a collective across every node of the cluster at growing sizes, printed
 * like nccl-tests (size, count, type, redop, root, time, algbw, busbw, #wrong). Times are per collective,
 * measured at the coordinator over {@code --iters} collectives in flight back to back.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Benchmarks a collective across the cluster's nodes, nccl-tests style.")
final class ClusterBenchCommand implements Callable<Integer> {

    @ParentCommand
    CoordinatorCommand parent;

    @Option(names = "--collective", paramLabel = "C", description = "all-reduce (default), broadcast, reduce, "
            + "reduce-scatter, all-gather")
    String collective = "all-reduce";

    @Option(names = {"-b", "--min-bytes"}, paramLabel = "SIZE", description = "smallest message (default 8K)")
    String minBytes = "8K";

    @Option(names = {"-e", "--max-bytes"}, paramLabel = "SIZE", description = "largest message (default 8M)")
    String maxBytes = "8M";

    @Option(names = {"-f", "--factor"}, paramLabel = "N", description = "size multiplier (default 2)")
    int factor = 2;

    @Option(names = {"-n", "--iters"}, paramLabel = "N", description = "timed collectives per size (default 10)")
    int iters = 10;

    @Option(names = {"-w", "--warmup"}, paramLabel = "N", description = "untimed collectives per size (default 2)")
    int warmup = 2;

    @Option(names = {"-d", "--dtype"}, paramLabel = "T", description = "f32 (default), f16, bf16")
    String dtype = "f32";

    @Option(names = {"-o", "--op"}, paramLabel = "OP", description = "sum (default), max, min, avg")
    String op = "sum";

    @Option(names = {"-c", "--check"}, description = "check results (sizes up to 1 MiB per rank; all-reduce sum only)")
    boolean check;

    @Override
    public Integer call() {
        Collective c = Collective.parse(collective);
        DType t = DType.parse(dtype);
        ReduceOp reduceOp = ReduceOp.parse(op);
        long min = bytes(minBytes);
        long max = bytes(maxBytes);
        if (factor < 2 || min < t.bytes() || max < min) {
            throw new IllegalArgumentException("need --factor >= 2 and " + t.bytes() + " <= --min-bytes <= --max-bytes");
        }
        return parent.withCluster(cluster -> {
            PrintWriter out = parent.out();
            try (ClusterGroup g = cluster.group(List.of())) {
                int n = g.size();
                out.println("# " + g.topology().replace("\n", "\n# "));
                out.println("# " + g.describe(c));
                out.printf("#%13s %12s %6s %6s %6s %10s %8s %8s %7s%n", "size", "count", "type", "redop", "root",
                        "time", "algbw", "busbw", "#wrong");
                out.printf("#%13s %12s %6s %6s %6s %10s %8s %8s %7s%n", "(B)", "(elements)", "", "", "", "(us)",
                        "(GB/s)", "(GB/s)", "");
                out.flush();
                for (long size = min; size <= max; size *= factor) {
                    long count = Math.max(1, size / t.bytes() / (c == Collective.ALL_GATHER
                            || c == Collective.REDUCE_SCATTER ? n : 1));
                    RemoteTensor send = g.allocate(t, c.sendCount(count, n));
                    RemoteTensor recv = g.allocate(t, c.recvCount(count, n));
                    try {
                        String wrong = check && c == Collective.ALL_REDUCE && reduceOp == ReduceOp.SUM
                                && count * t.bytes() <= (1 << 20) ? Long.toString(wrong(g, send, recv, count)) : "N/A";
                        for (int i = 0; i < warmup; i++) {
                            g.await(g.run(c, reduceOp, count, 0, send, recv));
                        }
                        long start = System.nanoTime();
                        List<CompletionStage<ClusterProtocol.Reply>> inFlight = new ArrayList<>(iters);
                        for (int i = 0; i < iters; i++) {
                            inFlight.add(g.run(c, reduceOp, count, 0, send, recv));
                        }
                        inFlight.forEach(g::await);
                        double us = (System.nanoTime() - start) / 1e3 / iters;
                        long msgBytes = Math.max(c.sendCount(count, n), c.recvCount(count, n)) * t.bytes();
                        double algbw = msgBytes / us / 1e3;
                        out.printf("%14d %12d %6s %6s %6d %10.1f %8.2f %8.2f %7s%n", msgBytes, count,
                                t.name().toLowerCase(), reduceOp.name().toLowerCase(), c.rooted() ? 0 : -1, us, algbw,
                                algbw * c.busBandwidthFactor(n), wrong);
                        out.flush();
                    } finally {
                        releaseQuietly(g, send, recv);
                    }
                }
            }
            return 0;
        });
    }

    /** After a failure the group is broken and releasing fails too: the failure, not the release, is the news. */
    private static void releaseQuietly(ClusterGroup g, RemoteTensor... tensors) {
        for (RemoteTensor t : tensors) {
            try {
                g.release(t);
            } catch (io.cohort.cluster.ClusterException e) {
                // the group's broken state says why; closing it frees the tensors on the nodes
            }
        }
    }

    /** Elements of rank 0 and of the last rank that differ from the sum of every rank's pattern. */
    private static long wrong(ClusterGroup g, RemoteTensor send, RemoteTensor recv, long count) {
        long seed = 17;
        g.fill(send, seed);
        g.await(g.allReduce(send, recv, ReduceOp.SUM));
        long wrong = 0;
        for (int rank : new int[]{0, g.size() - 1}) {
            float[] got = g.readFloats(recv, rank);
            for (int i = 0; i < count; i++) {
                double expected = 0;
                for (int r = 0; r < g.size(); r++) {
                    expected += Pattern.value(seed, r, i);
                }
                if (got[i] != expected) {
                    wrong++;
                }
            }
        }
        return wrong;
    }

    private static long bytes(String text) {
        return ConfigFactory.parseString("b = " + text).getBytes("b");
    }
}
