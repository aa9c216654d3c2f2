package io.cohort.cli;

import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import io.cohort.devices.Devices;
import io.cohort.plan.Algorithm;
import io.cohort.plan.PlanRequest;
import io.cohort.plan.Planners;
import io.cohort.topology.Topology;
import java.io.File;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code cohort topo}: the link matrix of a set of devices (or a topology file), the backend and each algorithm's shape. */
@Command(name = "topo", mixinStandardHelpOptions = true,
        description = {"Prints how devices are connected (like nvidia-smi topo -m), the backend a group of them",
                "gets, and the ring / trees each algorithm builds for an all-reduce."})
final class TopoCommand implements Callable<Integer> {

    static final class Source {
        @Option(names = "--devices", paramLabel = "SPEC", description = "host:N, cuda, cuda:N or auto (default)")
        String devices;

        @Option(names = "--topology", paramLabel = "FILE", description = "a topology file, e.g. conf/topologies/nvlink-8.conf")
        File topology;
    }

    @ParentCommand
    CohortCli parent;

    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true)
    Source source = new Source();

    @Option(names = "--bytes", defaultValue = "1M", paramLabel = "SIZE",
            description = "message size the algorithm shapes are planned for (default 1M)")
    String bytes;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        long size = io.cohort.bench.ByteSizes.parse(bytes);
        if (source.topology != null) {
            Topology t = TopologyFiles.load(source.topology);
            printMatrix(out, t);
            out.printf("%nbackend (auto): %s%n", TopologyFiles.backendFor(t));
            printPlans(out, t, size);
            return 0;
        }
        try (Cohort cohort = Cohort.start(parent.config())) {
            Devices.Selection sel = cohort.selectDevices(source.devices != null ? source.devices : "auto");
            try (CohortGroup group = cohort.group(sel.devices(), BackendKind.AUTO)) {
                printMatrix(out, group.topology());
                out.printf("%ndevices: %s%n", sel.reason());
                out.printf("backend (auto): %s%n", group.backendChoice());
                printPlans(out, group.topology(), size);
            }
        }
        out.flush();
        return 0;
    }

    static void printMatrix(PrintWriter out, Topology t) {
        out.print(TopologyFiles.render(t));
    }

    static void printPlans(PrintWriter out, Topology t, long bytes) {
        out.printf("%nall-reduce of %s per rank (f32), per algorithm:%n", io.cohort.metrics.MetricKey.formatBytes(bytes));
        long count = Math.max(t.size(), bytes / 4);
        for (Algorithm a : Algorithm.values()) {
            String shape;
            try {
                shape = Planners.of(a).plan(PlanRequest.of(Collective.ALL_REDUCE, t, count)).description();
            } catch (RuntimeException e) {
                shape = "n/a (" + e.getMessage() + ")";
            }
            out.printf("  %-14s %s%n", a.cliName(), shape);
        }
    }
}
