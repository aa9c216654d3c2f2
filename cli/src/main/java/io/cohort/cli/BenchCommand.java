package io.cohort.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.cohort.api.Cohort;
import io.cohort.backend.BackendKind;
import io.cohort.bench.BenchOptions;
import io.cohort.bench.BenchRow;
import io.cohort.bench.BenchRunner;
import io.cohort.bench.BenchSpec;
import io.cohort.bench.ByteSizes;
import io.cohort.bench.ProgressBar;
import io.cohort.device.discovery.Devices;
import io.cohort.plan.Algorithm;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code cohort bench}: nccl-tests-style sweep of sizes, backends and algorithms, with the host path latency. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measures collectives like nccl-tests, several backends and algorithms side by side.",
                "Per size, backend and algorithm, out of place and in place: time per collective, algorithm and bus "
                        + "bandwidth, elements that differ from the reference (#wrong, checked after the timed loop); "
                        + "then the host path, p50 over calls one at a time after a warm-up: enq (API call until "
                        + "every rank's work is enqueued) and rt (API call until the result is back). Unset options "
                        + "come from cohort.cli.bench in the config."})
final class BenchCommand implements Callable<Integer> {

    @ParentCommand
    CohortCli parent;

    @Spec
    CommandSpec spec;

    @Option(names = "--devices", paramLabel = "SPEC", description = "host:N, cuda, cuda:N or auto (GPUs if any, else host)")
    String devices;

    @Option(names = "--backends", split = ",", paramLabel = "B",
            description = "auto, p2p, native, nccl (side by side; default cohort.backend.kind)")
    List<String> backends;

    @Option(names = "--algorithms", split = ",", paramLabel = "A",
            description = "auto, ring, binary-tree, kary-tree, balanced-tree, one-shot (plan-based backends)")
    List<String> algorithms;

    @Mixin
    BenchOptions options;

    @Option(names = "--metrics", description = "print the runtime's collective metrics at the end")
    boolean metrics;

    @Override
    public Integer call() throws IOException {
        Config config = parent.config();
        Config d = config.getConfig("cohort.cli.bench");
        List<String> backendNames = backends != null ? backends : d.getStringList("backends");
        if (backendNames.isEmpty()) {
            backendNames = List.of(config.getString("cohort.backend.kind"));
        }
        BenchSpec benchSpec = options.spec(d, parse(backendNames, BackendKind::parse),
                parse(algorithms != null ? algorithms : d.getStringList("algorithms"), BenchCommand::algorithmName));
        PrintWriter out = spec.commandLine().getOut();
        String pool = null;
        if (config.getString("cohort.pool.capacity").equals("auto")) {
            long bytes = d.getInt("pool-factor") * benchSpec.maxBytes() + d.getBytes("pool-extra");
            config = ConfigFactory.empty().withValue("cohort.pool.capacity", ConfigValueFactory.fromAnyRef(bytes))
                    .withFallback(config);
            pool = ByteSizes.format(bytes) + " per device (" + d.getInt("pool-factor") + " x max-bytes + "
                    + ByteSizes.format(d.getBytes("pool-extra")) + "; set cohort.pool.capacity to choose)";
        }
        try (Cohort cohort = Cohort.start(config)) {
            Devices.Selection selection = cohort.selectDevices(devices != null ? devices : d.getString("devices"));
            benchSpec.checkRanks(selection.devices().size());
            out.printf("# cohort bench: %d devices %s (%s)%n", selection.devices().size(),
                    selection.devices().stream().map(io.cohort.device.Device::name).toList(), selection.reason());
            out.printf("# dtype %s, op %s, iters %d, warmup %d calls / %s, latency %d calls / %s%n",
                    names(benchSpec.dtypes()), names(benchSpec.ops()), benchSpec.iters(), benchSpec.warmup().calls(),
                    benchSpec.warmup().time().toMillis() + "ms", benchSpec.latency().calls(),
                    benchSpec.latency().time().toMillis() + "ms");
            if (pool != null) {
                out.println("# pool: " + pool);
            }
            BenchRunner runner = new BenchRunner(cohort, selection.devices(), benchSpec, out);
            List<BenchRow> rows;
            try (ProgressBar bar = ProgressBar.forTerminal(runner.steps())) {
                rows = runner.run(bar);
            }
            options.writeOutputs(rows, "cohort bench: " + selection.devices().size() + " x "
                    + selection.devices().getFirst().kind().name().toLowerCase(java.util.Locale.ROOT), out);
            if (metrics) {
                out.println("#");
                out.println("# metrics");
                cohort.collectiveMetrics().render().lines().forEach(l -> out.println("# " + l));
            }
            out.flush();
            return rows.stream().anyMatch(r -> r.wrong() > 0) ? 1 : 0;
        }
    }

    private static String algorithmName(String name) {
        return name.trim().equalsIgnoreCase("auto") ? "auto" : Algorithm.parse(name).cliName();
    }

    private static <T> List<T> parse(List<String> given, Function<String, T> parser) {
        return given.stream().map(parser).distinct().toList();
    }

    private static String names(List<? extends Enum<?>> values) {
        return String.join(",", values.stream().map(v -> v.name().toLowerCase(java.util.Locale.ROOT)).toList());
    }
}
