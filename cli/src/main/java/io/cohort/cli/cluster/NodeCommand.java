package io.cohort.cli.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.cluster.ClusterNode;
import io.cohort.cluster.ClusterSettings;
import java.io.File;
import java.io.PrintWriter;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cohort node --config conf/cluster/node-a.conf}: joins the cluster as a device node and serves until
 * it leaves (Ctrl-C, {@code cohort coordinator drain}) or is downed.
 */
@Command(name = "node", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs a device node of a Cohort cluster: joins through the seed nodes, opens its devices and "
                + "offers them to the cluster coordinator until it leaves or is removed.",
                "Exit code 0 once the node stopped, 1 when the cluster did not admit it."})
public final class NodeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE",
            description = "cluster config of this node (e.g. conf/cluster/node-a.conf)")
    File config;

    @Option(names = "--port", paramLabel = "N", description = "remoting port (overrides the file; 0: any free port)")
    Integer port;

    @Option(names = "--devices", paramLabel = "SPEC", description = "host:N, cuda, cuda:N or auto (overrides the file)")
    String devices;

    @Option(names = "--name", paramLabel = "NAME", description = "cluster name (overrides the file)")
    String name;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        File file = ClusterCommands.configOf(spec, config);
        if (file == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--config=FILE'");
        }
        Config conf = ClusterSettings.load(file, overrides());
        io.cohort.config.ConfigValidator.check(conf);
        ClusterNode node;
        try {
            node = ClusterNode.start(conf);
        } catch (RuntimeException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            spec.commandLine().getErr().flush();
            return 1;
        }
        out.println("node " + node.info().address() + " up in cluster '" + ClusterSettings.from(conf).name()
                + "': " + node.info().devices() + ", local backend " + node.info().backend());
        out.flush();
        Thread hook = Thread.ofPlatform().unstarted(node::close);
        Runtime.getRuntime().addShutdownHook(hook);
        node.whenStopped().toCompletableFuture().join();
        out.println("node " + node.info().address() + " stopped ("
                + org.apache.pekko.cluster.typed.Cluster.get(node.system()).selfMember().status() + ")");
        out.flush();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down
        }
        return 0;
    }

    private Config overrides() {
        Map<String, Object> m = new HashMap<>();
        if (port != null) {
            m.put("pekko.remote.artery.canonical.port", port);
        }
        if (devices != null) {
            m.put("cohort.cluster.devices", devices);
        }
        if (name != null) {
            m.put("cohort.cluster.name", name);
        }
        return ConfigFactory.parseMap(m);
    }
}
