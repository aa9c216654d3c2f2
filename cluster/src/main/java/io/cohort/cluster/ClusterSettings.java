package io.cohort.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.CohortException;
import java.io.File;
import java.time.Duration;
import java.util.List;

/**
 * The {@code cohort.cluster} section of a member's configuration (defaults: {@code cohort-cluster.conf}),
 * and the seed nodes Pekko joins through, which also bound who may take part in a group.
 */
public record ClusterSettings(String name, String role, List<String> nodeRoles, String devices, BackendKind backend,
                              String transportHost, int transportPort, int transportPortSpan,
                              Duration joinTimeout, Duration groupTimeout, Duration collectiveTimeout,
                              List<String> seedNodes) {

    public static final String COORDINATOR_ROLE = "coordinator";

    /** A member's whole configuration: {@code file} over the cluster defaults over the application's config. */
    public static Config load(File file) {
        return load(file, ConfigFactory.empty());
    }

    /** Like {@link #load(File)} with {@code overrides} (e.g. from the command line) over the file. */
    public static Config load(File file, Config overrides) {
        if (!file.isFile()) {
            throw new CohortException("cluster config file " + file + " not found");
        }
        return withDefaults(overrides.withFallback(ConfigFactory.parseFile(file)));
    }

    /**
     * {@code config} over the cluster defaults over {@code application.conf}/{@code reference.conf}, resolved,
     * with remoting on TLS when {@code cohort.cluster.tls.enabled} ({@link ClusterTls}).
     */
    public static Config withDefaults(Config config) {
        return ClusterTls.configure(ConfigFactory.systemProperties()
                .withFallback(config)
                .withFallback(ConfigFactory.parseResources("cohort-cluster.conf"))
                .withFallback(ConfigFactory.load())
                .resolve());
    }

    public static ClusterSettings from(Config root) {
        Config c = root.getConfig("cohort.cluster");
        String host = c.getString("transport.host");
        if (host.isBlank()) {
            host = root.getString("pekko.remote.artery.canonical.hostname");
        }
        return new ClusterSettings(c.getString("name"), c.getString("role"), c.getStringList("node-roles"),
                c.getString("devices"), BackendKind.parse(c.getString("backend")), host, c.getInt("transport.port"),
                c.getInt("transport.port-span"), c.getDuration("join-timeout"), c.getDuration("group-timeout"),
                c.getDuration("collective-timeout"), root.getStringList("pekko.cluster.seed-nodes"));
    }

    public boolean coordinator() {
        return role.equals(COORDINATOR_ROLE);
    }

    /** "host:port" of each seed node ("pekko://name@host:port" in the config). */
    public List<String> seedHostPorts() {
        return seedNodes.stream().map(ClusterSettings::hostPort).toList();
    }

    /** "host:port" of a Pekko address string ("pekko://name@host:port" or already "host:port"). */
    public static String hostPort(String address) {
        int at = address.lastIndexOf('@');
        return at < 0 ? address : address.substring(at + 1);
    }
}
