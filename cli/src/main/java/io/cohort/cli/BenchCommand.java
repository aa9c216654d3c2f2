package io.cohort.cli;

import com.typesafe.config.Config;
import io.cohort.api.Cohort;
import io.cohort.backend.BackendKind;
import io.cohort.bench.BenchRow;
import io.cohort.bench.BenchRunner;
import io.cohort.bench.BenchSpec;
import io.cohort.bench.BenchTable;
import io.cohort.bench.ByteSizes;
import io.cohort.bench.ProgressBar;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.discovery.Devices;
import io.cohort.plan.Algorithm;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code cohort bench}: nccl-tests-style sweep of sizes, backends and algorithms, with the host path latency. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measures collectives like nccl-tests, several backends and algorithms side by side.",
                "Per size, backend and algorithm: time per collective, algorithm and bus bandwidth, elements that "
                        + "differ from the reference (#wrong, checked after the timed loop), and enq: the host path "
                        + "from the API call until every rank's work is enqueued. Unset options come from "
                        + "cohort.cli.bench in the config."})
final class BenchCommand implements Callable<Integer> {

    @ParentCommand
    CohortCli parent;

    @Spec
    CommandSpec spec;

    @Option(names = "--devices", paramLabel = "SPEC", description = "host:N, cuda, cuda:N or auto (GPUs if any, else host)")
    String devices;

    @Option(names = "--backends", split = ",", paramLabel = "B", description = "auto, p2p, native, nccl (side by side)")
    List<String> backends;

    @Option(names = "--collectives", split = ",", paramLabel = "C",
            description = "all-reduce, broadcast, reduce, reduce-scatter, all-gather, or all")
    List<String> collectives;

    @Option(names = "--algorithms", split = ",", paramLabel = "A",
            description = "auto, ring, binary-tree, kary-tree, balanced-tree, one-shot (plan-based backends)")
    List<String> algorithms;

    @Option(names = "--dtype", description = "f32, f16 or bf16")
    String dtype;

    @Option(names = "--op", description = "sum, avg, max or min")
    String op;

    @Option(names = "--root", defaultValue = "0", description = "root of broadcast and reduce (default 0)")
    int root;

    @Option(names = "--min-bytes", paramLabel = "SIZE", description = "smallest size, e.g. 8K")
    String minBytes;

    @Option(names = "--max-bytes", paramLabel = "SIZE", description = "largest size, e.g. 64M")
    String maxBytes;

    @Option(names = "--factor", description = "size multiplier per step (2 or 4, ...)")
    Integer factor;

    @Option(names = "--iters", description = "timed collectives per size")
    Integer iters;

    @Option(names = "--warmup", description = "untimed collectives per size, one at a time, before the timed ones (at least 3: they measure enq)")
    Integer warmup;

    @Option(names = "--csv", paramLabel = "FILE", description = "also write the rows as CSV")
    File csv;

    @Option(names = "--metrics", description = "print the runtime's collective metrics at the end")
    boolean metrics;

    @Override
    public Integer call() throws IOException {
        Config config = parent.config();
        Config d = config.getConfig("cohort.cli.bench");
        BenchSpec benchSpec = new BenchSpec(
                parse(backends, d.getStringList("backends"), BackendKind::parse),
                parseCollectives(collectives == null ? d.getStringList("collectives") : collectives),
                parse(algorithms, d.getStringList("algorithms"), BenchCommand::algorithmName),
                DType.parse(dtype != null ? dtype : d.getString("dtype")),
                ReduceOp.parse(op != null ? op : d.getString("op")),
                root,
                ByteSizes.parse(minBytes != null ? minBytes : d.getString("min-bytes")),
                ByteSizes.parse(maxBytes != null ? maxBytes : d.getString("max-bytes")),
                factor != null ? factor : d.getInt("factor"),
                iters != null ? iters : d.getInt("iters"),
                warmup != null ? warmup : d.getInt("warmup"));
        PrintWriter out = spec.commandLine().getOut();
        try (Cohort cohort = Cohort.start(config)) {
            Devices.Selection selection = cohort.selectDevices(devices != null ? devices : d.getString("devices"));
            out.printf("# cohort bench: %d devices %s (%s)%n", selection.devices().size(),
                    selection.devices().stream().map(io.cohort.device.Device::name).toList(), selection.reason());
            out.printf("# dtype %s, op %s, iters %d, warmup %d%n", benchSpec.dtype().name().toLowerCase(),
                    benchSpec.op().name().toLowerCase(), benchSpec.iters(), benchSpec.warmup());
            BenchRunner runner = new BenchRunner(cohort, selection.devices(), benchSpec, out);
            List<BenchRow> rows;
            try (ProgressBar bar = ProgressBar.forTerminal(runner.steps())) {
                rows = runner.run(bar);
            }
            if (csv != null) {
                List<String> lines = new ArrayList<>();
                lines.add(BenchTable.csvHeader());
                rows.forEach(r -> lines.add(BenchTable.csv(r)));
                Files.write(csv.toPath(), lines);
                out.println("# wrote " + rows.size() + " rows to " + csv);
            }
            if (metrics) {
                out.println("#");
                out.println("# metrics");
                cohort.collectiveMetrics().render().lines().forEach(l -> out.println("# " + l));
            }
            out.flush();
            return rows.stream().anyMatch(r -> r.wrong() != 0) ? 1 : 0;
        }
    }

    private static String algorithmName(String name) {
        return name.trim().equalsIgnoreCase("auto") ? "auto" : Algorithm.parse(name).cliName();
    }

    private static <T> List<T> parse(List<String> given, List<String> defaults, Function<String, T> parser) {
        return (given != null ? given : defaults).stream().map(parser).distinct().toList();
    }

    private static List<Collective> parseCollectives(List<String> names) {
        if (names.stream().anyMatch(n -> n.trim().equalsIgnoreCase("all"))) {
            return List.of(Collective.values());
        }
        return names.stream().map(Collective::parse).distinct().toList();
    }
}
