package io.cohort.cli.cluster;

import io.cohort.cluster.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.cli.cluster.ClusterCommands;
import io.cohort.cli.cluster.CoordinatorCommand;
import io.cohort.cli.cluster.NodeCommand;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The cluster config files of conf/cluster, the two-level topology and plan text, and the CLI wiring. */
class ClusterConfigTest {

    private static File confFile(String name) {
        Path here = Path.of("").toAbsolutePath();
        Path p = here.resolve("conf/cluster").resolve(name);
        if (!p.toFile().isFile()) {
            p = here.getParent().resolve("conf/cluster").resolve(name); // run from actors/
        }
        return p.toFile();
    }

    @Test
    void exampleFilesDescribeOneClusterOnLoopback() {
        Config coordinator = ClusterSettings.load(confFile("coordinator.conf"));
        ClusterSettings c = ClusterSettings.from(coordinator);
        assertTrue(c.coordinator());
        assertEquals("cohort", c.name());
        assertEquals(2551, coordinator.getInt("pekko.remote.artery.canonical.port"));
        assertEquals("127.0.0.1", coordinator.getString("pekko.remote.artery.canonical.hostname"));
        assertEquals("cluster", coordinator.getString("pekko.actor.provider"));
        assertFalse(coordinator.getBoolean("pekko.actor.allow-java-serialization"));
        assertEquals("jackson-cbor",
                coordinator.getString("pekko.actor.serialization-bindings.\"io.cohort.cluster.CborSerializable\""));
        assertEquals("org.apache.pekko.cluster.sbr.SplitBrainResolverProvider",
                coordinator.getString("pekko.cluster.downing-provider-class"));
        assertEquals(List.of("coordinator"), coordinator.getStringList("pekko.cluster.roles"));
        int port = 2552;
        for (String node : List.of("node-a.conf", "node-b.conf", "node-c.conf")) {
            Config conf = ClusterSettings.load(confFile(node));
            ClusterSettings s = ClusterSettings.from(conf);
            assertEquals("node", s.role());
            assertEquals(List.of("node"), conf.getStringList("pekko.cluster.roles"));
            assertEquals("host:2", s.devices());
            assertEquals(BackendKind.AUTO, s.backend());
            assertEquals(port, conf.getInt("pekko.remote.artery.canonical.port"));
            assertTrue(s.seedHostPorts().contains("127.0.0.1:" + port), s.seedHostPorts().toString());
            assertEquals(c.seedNodes(), s.seedNodes());
            port++;
        }
        assertTrue(c.seedNodes().getFirst().startsWith("pekko://cohort@127.0.0.1:"), c.seedNodes().toString());
    }

    @Test
    void theClusterNameIsPartOfEverySeedAddress() {
        Config other = ClusterSettings.load(confFile("node-a.conf"),
                ConfigFactory.parseString("cohort.cluster.name = other"));
        ClusterSettings s = ClusterSettings.from(other);
        assertEquals("other", s.name());
        assertTrue(s.seedNodes().stream().allMatch(a -> a.startsWith("pekko://other@")), s.seedNodes().toString());
        assertThrows(CohortException.class, () -> ClusterSettings.load(new File("no-such.conf")));
    }

    @Test
    void twoLevelTopologyAndHierarchicalPlan() {
        List<NodeInfo> nodes = List.of(
                new NodeInfo("127.0.0.1:2552", "node", List.of("cuda:0", "cuda:1"), "p2p", "", ""),
                new NodeInfo("127.0.0.1:2553", "node", List.of("cuda:0", "cuda:1"), "native", "", ""),
                new NodeInfo("127.0.0.1:2554", "node", List.of("cuda:0", "cuda:1"), "p2p", "", ""));
        assertArrayEquals(new int[]{0, 1, 2}, ClusterTopology.leaderOrder(nodes));
        String t = ClusterTopology.render(nodes);
        assertTrue(t.startsWith("3 nodes x 2 devices = 6 ranks"), t);
        assertTrue(t.contains("node 1 127.0.0.1:2553 (node, local backend native)"), t);
        assertTrue(t.contains("rank 4: cuda:0  (leader)") && t.contains("rank 5: cuda:1"), t);
        String ar = ClusterTopology.describe(Collective.ALL_REDUCE, nodes);
        assertTrue(ar.contains("1) inside each node: reduce to local rank 0"), ar);
        assertTrue(ar.contains("ring all-reduce") && ar.contains("0>1>2>0") && ar.contains("aeron:udp"), ar);
        assertTrue(ar.contains("3) inside each node: broadcast from local rank 0"), ar);
        for (Collective c : Collective.values()) {
            assertTrue(ClusterTopology.describe(c, nodes).startsWith(c.cliName() + " on 3 nodes x 2 devices"));
        }
    }

    @Test
    void commandsRunOnTheirOwnAndUnderAParentWithAnInheritedConfig() {
        @CommandLine.Command(name = "cohort")
        class Parent implements Runnable {
            @CommandLine.Option(names = "--config", scope = CommandLine.ScopeType.INHERIT)
            File config;

            @Override
            public void run() {
            }
        }
        CommandLine parent = new CommandLine(new Parent());
        ClusterCommands.addTo(parent);
        assertTrue(parent.getSubcommands().keySet().containsAll(List.of("node", "coordinator")));
        assertTrue(parent.getSubcommands().get("coordinator").getSubcommands().keySet()
                .containsAll(List.of("members", "topology", "bench", "drain", "remove", "serve")));
        StringWriter err = new StringWriter();
        parent.setErr(new PrintWriter(err));
        assertEquals(2, parent.execute("node"));
        assertTrue(err.toString().contains("--config"), err.toString());

        CommandLine node = new CommandLine(new NodeCommand());
        StringWriter nodeErr = new StringWriter();
        node.setErr(new PrintWriter(nodeErr));
        assertEquals(2, node.execute());
        assertTrue(nodeErr.toString().contains("--config"), nodeErr.toString());
        StringWriter usage = new StringWriter();
        CommandLine coordinator = new CommandLine(new CoordinatorCommand());
        coordinator.setOut(new PrintWriter(usage));
        assertEquals(0, coordinator.execute("--help"));
        assertTrue(usage.toString().contains("bench") && usage.toString().contains("drain"), usage.toString());
    }

    @Test
    void theTlsExampleSetIsThePlainOneOnTls() {
        for (String member : List.of("coordinator", "node-a", "node-b", "node-c")) {
            Config tls = ConfigFactory.parseFile(confFile("tls/" + member + ".conf")).resolve();
            Config plain = ConfigFactory.parseFile(confFile(member + ".conf")).resolve();
            assertTrue(tls.getBoolean("cohort.cluster.tls.enabled"), member);
            assertEquals("conf/cluster/tls/keys/" + member + ".p12", tls.getString("cohort.cluster.tls.key-store"));
            assertEquals("conf/cluster/tls/keys/truststore.p12", tls.getString("cohort.cluster.tls.trust-store"));
            assertFalse(tls.hasPath("cohort.cluster.tls.key-store-password"), "passwords come from the environment");
            assertEquals(plain.getInt("pekko.remote.artery.canonical.port"),
                    tls.getInt("pekko.remote.artery.canonical.port"), member);
        }
        assertTrue(confFile("tls/make-certs.sh").canExecute());
    }

    @Test
    void coordinatorWaitBoundsJoiningWhenNoSeedRuns() throws Exception {
        int seed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            seed = s.getLocalPort();
        }
        Path conf = java.nio.file.Files.createTempFile("no-seed", ".conf");
        java.nio.file.Files.writeString(conf, """
                cohort.cluster.name = "lonely"
                pekko.remote.artery.canonical.port = 0
                pekko.cluster.seed-nodes = ["pekko://lonely@127.0.0.1:%d"]
                pekko.loglevel = ERROR
                """.formatted(seed));
        CommandLine cl = io.cohort.cli.CohortCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        long start = System.nanoTime();
        int code = cl.execute("coordinator", "--config", conf.toString(), "--wait", "3s", "members");
        long seconds = (System.nanoTime() - start) / 1_000_000_000L;
        java.nio.file.Files.delete(conf);
        assertEquals(1, code, err.toString());
        assertTrue(seconds < 15, "--wait 3s took " + seconds + " s");
        List<String> lines = err.toString().lines().toList();
        assertEquals(1, lines.size(), err.toString());
        assertTrue(lines.getFirst().startsWith("error: member ") && lines.getFirst().contains("was not admitted")
                && lines.getFirst().contains("within 3 s"), lines.getFirst());
    }
}
