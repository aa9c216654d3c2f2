package io.cohort.cli.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.bench.BenchRow;
import io.cohort.bench.BenchSpec;
import io.cohort.bench.BenchTable;
import io.cohort.cluster.ClusterGroup;
import io.cohort.cluster.ClusterProtocol;
import io.cohort.cluster.Pattern;
import io.cohort.cluster.RemoteTensor;
import io.cohort.config.ConfigValidator;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.io.File;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import picocli.CommandLine.Command;
import io.cohort.bench.BenchOptions;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code cohort coordinator bench}: collectives across every node of the cluster at growing sizes, in the
 * table of {@code cohort bench} (same columns, flags, defaults from {@code cohort.cli.bench}, summary lines).
 * Backend "cluster", algorithm "two-level": inside each node, then between the nodes' leaders over Aeron.
 * Times are measured at the coordinator; enq is not measured there ("-"), and in-place runs are not made.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Benchmarks collectives across the cluster's nodes, in the table of cohort bench.")
final class ClusterBenchCommand implements Callable<Integer> {

    @ParentCommand
    CoordinatorCommand parent;

    @Mixin
    BenchOptions options;

    @Option(names = {"-c", "--check"}, description = "check results (all-reduce sum f32, up to 1 MiB per rank)")
    boolean check;

    @Override
    public Integer call() {
        Config d = defaults().getConfig("cohort.cli.bench");
        BenchSpec spec = options.spec(d, List.of(io.cohort.backend.BackendKind.AUTO), List.of("auto"));
        return parent.withCluster(cluster -> {
            PrintWriter out = parent.out();
            List<BenchRow> rows = new ArrayList<>();
            try (ClusterGroup g = cluster.group(List.of())) {
                int n = g.size();
                spec.checkRanks(n);
                out.println("# " + g.topology().replace("\n", "\n# "));
                for (Collective c : spec.collectives()) {
                    out.println("#");
                    out.println("# " + c.cliName() + ", " + n + " ranks: " + g.describe(c).replace("\n", "\n# "));
                    BenchTable.header(out);
                    for (DType t : spec.dtypes()) {
                        for (ReduceOp reduceOp : spec.opsOf(c)) {
                            for (long size : spec.sizes()) {
                                BenchRow row = measure(g, spec, c, t, reduceOp, size);
                                if (row != null) {
                                    rows.add(row);
                                    BenchTable.row(out, row);
                                }
                            }
                        }
                    }
                }
            }
            BenchTable.summary(out, rows);
            options.writeOutputs(rows, "cohort coordinator bench: " + rows.size() + " rows", out);
            out.flush();
            return rows.stream().anyMatch(r -> r.wrong() > 0) ? 1 : 0;
        });
    }

    /** One size: warm-up, round trips one at a time, {@code iters} back to back, an optional check. */
    private BenchRow measure(ClusterGroup g, BenchSpec spec, Collective c, DType t, ReduceOp reduceOp, long size) {
        int n = g.size();
        long count = size / t.bytes() / (c == Collective.ALL_GATHER || c == Collective.REDUCE_SCATTER ? n : 1);
        if (count == 0) {
            return null;
        }
        int rootRank = c.rooted() ? spec.root() : 0;
        RemoteTensor send = g.allocate(t, c.sendCount(count, n));
        RemoteTensor recv = g.allocate(t, c.recvCount(count, n));
        try {
            long wrong = check && c == Collective.ALL_REDUCE && reduceOp == ReduceOp.SUM && t == DType.F32
                    && count * t.bytes() <= (1 << 20) ? wrong(g, send, recv, count) : -1;
            long start = System.nanoTime();
            for (int i = 0; spec.warmup().more(i, System.nanoTime() - start); i++) {
                g.await(g.run(c, reduceOp, count, rootRank, send, recv));
            }
            long[] roundTrip = new long[Math.max(3, spec.latency().calls())];
            int samples = 0;
            start = System.nanoTime();
            while (samples < roundTrip.length && spec.latency().more(samples, System.nanoTime() - start)) {
                long t0 = System.nanoTime();
                g.await(g.run(c, reduceOp, count, rootRank, send, recv));
                roundTrip[samples++] = System.nanoTime() - t0;
            }
            start = System.nanoTime();
            List<CompletionStage<ClusterProtocol.Reply>> inFlight = new ArrayList<>(spec.iters());
            for (int i = 0; i < spec.iters(); i++) {
                inFlight.add(g.run(c, reduceOp, count, rootRank, send, recv));
            }
            inFlight.forEach(g::await);
            double us = (System.nanoTime() - start) / 1e3 / spec.iters();
            long bytes = Math.max(c.sendCount(count, n), c.recvCount(count, n)) * t.bytes();
            double algbw = bytes / us / 1e3;
            return new BenchRow(c, bytes, bytes / t.bytes(), t.name().toLowerCase(Locale.ROOT),
                    c.reduces() ? reduceOp.name().toLowerCase(Locale.ROOT) : "none", c.rooted() ? rootRank : -1,
                    "cluster", "cluster", "two-level", new BenchRow.Run(us, algbw, algbw * c.busBandwidthFactor(n), wrong), null,
                    null, BenchRow.Latency.of(roundTrip, samples));
        } finally {
            releaseQuietly(g, send, recv);
        }
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

    /** The CLI defaults: the coordinator's --config over application.conf over the reference. */
    private Config defaults() {
        File file = ClusterCommands.configOf(parent.spec, parent.config);
        Config base = ConfigFactory.load();
        return file == null ? base : ConfigValidator.parseFile(file).withFallback(base).resolve();
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
}
