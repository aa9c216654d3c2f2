package io.cohort.cli.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.cluster.ClusterCohort;
import io.cohort.cluster.ClusterProtocol;
import io.cohort.cluster.ClusterSettings;
import io.cohort.cluster.ClusterTopology;
import io.cohort.cluster.NodeInfo;
import java.io.File;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code cohort coordinator --config conf/cluster/coordinator.conf <command>}: joins the cluster as a
 * coordinator member (hosting the coordinator singleton if it is the only one) and lists members, prints the
 * two-level topology, benchmarks collectives across the nodes, or drains/removes a node.
 */
@Command(name = "coordinator", mixinStandardHelpOptions = true, sortOptions = false,
        description = "The coordinator of a Cohort cluster: members, topology, bench across nodes, drain/remove.",
        subcommands = {CoordinatorCommand.Members.class, CoordinatorCommand.Topology.class, ClusterBenchCommand.class,
                CoordinatorCommand.Drain.class, CoordinatorCommand.Remove.class, CoordinatorCommand.Serve.class,
                CommandLine.HelpCommand.class})
public final class CoordinatorCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE",
            description = "cluster config of the coordinator (e.g. conf/cluster/coordinator.conf)")
    File config;

    @Option(names = "--port", paramLabel = "N",
            description = "remoting port (overrides the file; 0: any free port)")
    Integer port;

    @Option(names = "--wait-nodes", paramLabel = "N",
            description = "wait until N device nodes are up (default 1)")
    int waitNodes = 1;

    @Option(names = "--wait", paramLabel = "DURATION",
            description = "how long to wait to join the cluster and for the nodes (default 30s)")
    String waitFor = "30s";

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Joins the cluster, waits for the nodes, runs {@code action}, leaves. */
    int withCluster(Function<ClusterCohort, Integer> action) {
        Duration wait = duration(waitFor);
        long deadline = System.nanoTime() + wait.toNanos();
        Map<String, Object> overrides = new HashMap<>();
        overrides.put("cohort.cluster.role", ClusterSettings.COORDINATOR_ROLE);
        // --wait bounds joining too: with no seed up, the command ends after it rather than after the file's timeout
        overrides.put("cohort.cluster.join-timeout", wait.toMillis() + "ms");
        if (port != null) {
            overrides.put("pekko.remote.artery.canonical.port", port);
        }
        File file = ClusterCommands.configOf(spec, config);
        if (file == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--config=FILE'");
        }
        Config conf = ClusterSettings.load(file, ConfigFactory.parseMap(overrides));
        io.cohort.config.ConfigValidator.check(conf);
        try (ClusterCohort cluster = ClusterCohort.start(conf)) {
            cluster.awaitNodes(waitNodes, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            try {
                return action.apply(cluster);
            } catch (RuntimeException e) {
                // said before leaving the cluster, which may take seconds more beside a dead node
                String line = io.cohort.cli.CohortCli.errorLine(e);
                if (line == null) {
                    throw e;
                }
                PrintWriter err = spec.commandLine().getErr();
                err.println("error: " + line);
                err.flush();
                if (e instanceof io.cohort.cluster.ClusterException ce && !ce.nodes().isEmpty()) {
                    cluster.closeAfterNodeFailure();   // a node died: leaving cannot be agreed, do not wait for it
                }
                return 1;
            }
        }
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    @Command(name = "members", mixinStandardHelpOptions = true, description = "Lists the device nodes and their devices.")
    static final class Members implements Callable<Integer> {
        @ParentCommand
        CoordinatorCommand parent;

        @Override
        public Integer call() {
            return parent.withCluster(cluster -> {
                ClusterProtocol.Nodes nodes = cluster.members();
                PrintWriter out = parent.out();
                out.printf("%-22s %-12s %-8s %-9s %s%n", "node", "role", "state", "backend", "devices");
                for (NodeInfo n : nodes.nodes()) {
                    out.printf("%-22s %-12s %-8s %-9s %s%n", n.address(), n.role(),
                            nodes.draining().contains(n.address()) ? "draining" : "up", n.backend(),
                            String.join(",", n.devices()));
                }
                out.flush();
                return 0;
            });
        }
    }

    @Command(name = "topology", mixinStandardHelpOptions = true,
            description = "Prints the two-level topology (nodes, devices per node) and how each collective runs on it.")
    static final class Topology implements Callable<Integer> {
        @ParentCommand
        CoordinatorCommand parent;

        @Option(names = "--local", description = "also print each node's link matrix and local plans")
        boolean local;

        @Override
        public Integer call() {
            return parent.withCluster(cluster -> {
                List<NodeInfo> nodes = cluster.members().nodes();
                int[] order = ClusterTopology.leaderOrder(nodes);
                List<NodeInfo> ordered = java.util.Arrays.stream(order).mapToObj(nodes::get).toList();
                PrintWriter out = parent.out();
                out.println(ClusterTopology.render(ordered));
                if (local) {
                    for (NodeInfo n : ordered) {
                        out.println("\n" + n.address() + ":\n" + n.topology() + "\n" + n.localPlan());
                    }
                }
                if (ordered.stream().map(n -> n.devices().size()).distinct().count() == 1) {
                    out.println();
                    for (io.cohort.core.Collective c : io.cohort.core.Collective.values()) {
                        out.println(ClusterTopology.describe(c, ordered));
                    }
                }
                out.flush();
                return 0;
            });
        }
    }

    /** A change to one node, named by its address: what drain and remove share. */
    abstract static class NodeAction implements Callable<Integer> {
        @ParentCommand
        CoordinatorCommand parent;

        @Parameters(paramLabel = "NODE", description = "host:port of the node")
        String node;

        /** Applies the change; returns the word the confirmation line ends with. */
        abstract String apply(ClusterCohort cluster);

        @Override
        public Integer call() {
            return parent.withCluster(cluster -> {
                String done = apply(cluster);
                parent.out().println("node " + node + " " + done);
                parent.out().flush();
                return 0;
            });
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = "Takes a node out of new groups; it leaves the cluster once no group uses it.")
    static final class Drain extends NodeAction {
        @Override
        String apply(ClusterCohort cluster) {
            cluster.drain(node);
            return "draining";
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Downs a node now: groups that use it fail.")
    static final class Remove extends NodeAction {
        @Override
        String apply(ClusterCohort cluster) {
            cluster.remove(node);
            return "removed";
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Stays in the cluster hosting the coordinator singleton until interrupted.")
    static final class Serve implements Callable<Integer> {
        @ParentCommand
        CoordinatorCommand parent;

        @Override
        public Integer call() {
            return parent.withCluster(cluster -> {
                parent.out().println("coordinator up; Ctrl-C to leave");
                parent.out().flush();
                cluster.whenStopped().toCompletableFuture().join();
                return 0;
            });
        }
    }

    static Duration duration(String text) {
        try {
            return ConfigFactory.parseString("d = \"" + text + "\"").getDuration("d");
        } catch (com.typesafe.config.ConfigException e) {
            throw new io.cohort.core.CohortException("--wait '" + text + "' is not a duration (e.g. 5s, 2m)");
        }
    }
}
