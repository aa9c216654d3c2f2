package io.cohort.cli;

import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import io.cohort.device.discovery.Devices;
import io.cohort.core.DType;
import io.cohort.plan.Algorithm;
import io.cohort.plan.Plan;
import io.cohort.plan.PlanExplainer;
import io.cohort.plan.PlanRequest;
import io.cohort.plan.Planners;
import io.cohort.select.TableSelector;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyFile;
import io.cohort.topology.TopologyRenderer;
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
        description = {"Shows how devices are connected, the backend they get, and each algorithm's ring/tree.",
                "The link matrix is printed like nvidia-smi topo -m; the plans are those of an all-reduce of "
                        + "--bytes per rank."})
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

    @Option(names = "--explain", description = "print each plan's steps, validation and a simulated check")
    boolean explain;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        long size = io.cohort.bench.ByteSizes.parse(bytes);
        if (source.topology != null) {
            Topology t = TopologyFile.read(source.topology.toPath());
            out.print(TopologyRenderer.render(t));
            // no devices to create a group on: the rule Backends applies for auto
            out.printf("%nbackend (auto): %s%n", t.fullyConnected()
                    ? "p2p (every pair of the " + t.size() + " devices has P2P)"
                    : "native (P2P not available between every pair; p2p is used only on fully connected groups)");
            printPlans(out, t, size);
            out.flush();
            return 0;
        }
        try (Cohort cohort = Cohort.start(parent.config())) {
            Devices.Selection sel = cohort.selectDevices(source.devices != null ? source.devices : "auto");
            try (CohortGroup group = cohort.group(sel.devices(), BackendKind.AUTO)) {
                out.print(TopologyRenderer.render(group.topology()));
                out.printf("%ndevices: %s%n", sel.reason());
                out.printf("backend (auto): %s%n", CohortCli.describe(group.backendChoice()));
                printPlans(out, group.backendChoice().chosen() == BackendKind.NATIVE
                        ? group.topology().withoutP2p() : group.topology(), size);
            }
        }
        out.flush();
        return 0;
    }

    private void printPlans(PrintWriter out, Topology t, long bytes) {
        long count = Math.max(t.size(), bytes / 4);
        Algorithm selected = TableSelector.fromConfig(parent.config()).select(Collective.ALL_REDUCE, t, count * 4, DType.F32);
        out.printf("%nall-reduce of %s per rank (f32): the selector picks %s%n",
                io.cohort.metrics.MetricKey.formatBytes(bytes), selected.cliName());
        for (Algorithm a : Algorithm.values()) {
            try {
                Plan plan = Planners.of(a).plan(PlanRequest.of(Collective.ALL_REDUCE, t, count));
                if (explain) {
                    out.print(PlanExplainer.explain(plan, t));
                } else {
                    out.printf("  %-14s %s%n", a.cliName(), plan.description());
                }
            } catch (RuntimeException e) {
                out.printf("  %-14s n/a (%s)%n", a.cliName(), e.getMessage());
            }
        }
    }
}
