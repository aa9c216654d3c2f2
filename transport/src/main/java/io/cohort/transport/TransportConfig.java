package io.cohort.transport;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.core.CohortException;
import java.io.File;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Settings of one process's membership in a {@link ProcessGroup}: who it is (group, rank, size), how
 * processes reach each other (ipc or udp endpoints) and how long anything may wait. Read from the
 * {@code cohort.transport} section with {@code cohort-transport.conf} as fallback.
 *
 * <p>{@code sources} (udp, optional): the {@code host:port} each rank sends from. With them, a rank hears only
 * its left neighbour's announced source; without, only its left neighbour's endpoint host (any port).
 */
public record TransportConfig(String group, int rank, int size, Channel channel, List<String> endpoints,
                              List<String> sources, String aeronDir, String baseDir, int streamId, int termLength, int ipcMtu,
                              int udpMtu, Duration connectTimeout, Duration progressTimeout,
                              Duration livenessInterval, Duration stageTimeout, String idle) {

    /** How processes of a group reach each other. */
    public enum Channel {
        /** Shared memory through one driver on this host: {@code aeron:ipc}. */
        IPC,
        /** Unicast UDP to each rank's endpoint: {@code aeron:udp?endpoint=host:port}. */
        UDP
    }

    public TransportConfig {
        if (size < 1) {
            throw new CohortException("cohort.transport.size must be at least 1, got " + size);
        }
        if (rank < 0 || rank >= size) {
            throw new CohortException("cohort.transport.rank " + rank + " is outside 0.." + (size - 1));
        }
        endpoints = List.copyOf(endpoints);
        sources = List.copyOf(sources);
        if (channel == Channel.UDP && endpoints.size() != size) {
            throw new CohortException("cohort.transport.endpoints lists " + endpoints.size() + " endpoints for "
                    + size + " ranks (udp needs one host:port per rank)");
        }
        if (channel == Channel.UDP && !sources.isEmpty() && sources.size() != size) {
            throw new CohortException("cohort.transport.sources lists " + sources.size() + " sources for " + size
                    + " ranks (one host:port per rank, or none)");
        }
        if (Integer.bitCount(termLength) != 1 || termLength < 64 * 1024) {
            throw new CohortException("cohort.transport.term-length must be a power of two >= 64k, got " + termLength);
        }
    }

    /** The defaults of {@code cohort-transport.conf}. */
    public static TransportConfig defaults() {
        return from(ConfigFactory.empty());
    }

    /** Reads {@code cohort.transport} of {@code root} (a whole application config), defaults as fallback. */
    public static TransportConfig from(Config root) {
        Config c = root.withFallback(ConfigFactory.parseResources("cohort-transport.conf")).resolve()
                .getConfig("cohort.transport");
        String channel = c.getString("channel").trim().toUpperCase(Locale.ROOT);
        Channel ch;
        try {
            ch = Channel.valueOf(channel);
        } catch (IllegalArgumentException e) {
            throw new CohortException("cohort.transport.channel must be ipc or udp, got '" + c.getString("channel") + "'");
        }
        return new TransportConfig(c.getString("group"), c.getInt("rank"), c.getInt("size"), ch,
                c.getStringList("endpoints"), c.getStringList("sources"), c.getString("aeron-dir"), c.getString("base-dir"), c.getInt("stream-id"),
                (int) c.getBytes("term-length").longValue(), (int) c.getBytes("ipc-mtu").longValue(),
                (int) c.getBytes("udp-mtu").longValue(), c.getDuration("connect-timeout"),
                c.getDuration("progress-timeout"), c.getDuration("liveness-interval"), c.getDuration("stage-timeout"),
                c.getString("idle"));
    }

    public TransportConfig withMember(String group, int rank, int size) {
        return new TransportConfig(group, rank, size, channel, endpoints, sources, aeronDir, baseDir, streamId, termLength,
                ipcMtu, udpMtu, connectTimeout, progressTimeout, livenessInterval, stageTimeout, idle);
    }

    public TransportConfig withUdp(List<String> endpoints) {
        return withUdp(endpoints, List.of());
    }

    /** Over UDP: rank r receives on {@code endpoints[r]} and sends from {@code sources[r]} (empty: any port). */
    public TransportConfig withUdp(List<String> endpoints, List<String> sources) {
        return new TransportConfig(group, rank, size, Channel.UDP, endpoints, sources, aeronDir, baseDir, streamId, termLength,
                ipcMtu, udpMtu, connectTimeout, progressTimeout, livenessInterval, stageTimeout, idle);
    }

    public TransportConfig withBaseDir(String baseDir) {
        return new TransportConfig(group, rank, size, channel, endpoints, sources, aeronDir, baseDir, streamId, termLength,
                ipcMtu, udpMtu, connectTimeout, progressTimeout, livenessInterval, stageTimeout, idle);
    }

    public TransportConfig withTimeouts(Duration connect, Duration progress) {
        return new TransportConfig(group, rank, size, channel, endpoints, sources, aeronDir, baseDir, streamId, termLength,
                ipcMtu, udpMtu, connect, progress, livenessInterval, stageTimeout, idle);
    }

    /** Whether this process embeds a driver (no external aeron-dir configured). */
    public boolean embeddedDriver() {
        return aeronDir.isBlank();
    }

    /**
     * The driver directory this process uses: the configured external one, or the group's own under the base
     * directory (ipc: one per group, shared by its processes; udp: one per process).
     */
    public String driverDirectory() {
        if (!embeddedDriver()) {
            return aeronDir;
        }
        String base = baseDir.isBlank() ? defaultBaseDir() : baseDir;
        String name = "cohort-" + sanitize(group) + (channel == Channel.UDP ? "-r" + rank : "");
        return new File(base, name).getAbsolutePath();
    }

    /** Whether this process starts the embedded driver (udp: each process; ipc: rank 0 for the group). */
    public boolean startsDriver() {
        return embeddedDriver() && (channel == Channel.UDP || rank == 0);
    }

    private static String defaultBaseDir() {
        File shm = new File("/dev/shm");
        return shm.isDirectory() && shm.canWrite() ? shm.getPath() : System.getProperty("java.io.tmpdir");
    }

    private static String sanitize(String s) {
        return s.replaceAll("[^A-Za-z0-9._-]", "_");
    }
}
