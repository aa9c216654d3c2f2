package io.cohort.transport;

import io.aeron.Aeron;
import io.aeron.ChannelUriStringBuilder;
import io.aeron.CommonContext;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.exceptions.DriverTimeoutException;
import io.cohort.core.CohortException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This process's Aeron: an embedded {@link MediaDriver} (the default: ipc groups share the one rank 0 embeds,
 * udp ranks each embed their own) or an external driver's directory, plus the client, and the channels
 * between ranks. Closing it closes the client, then the driver it embedded, then deletes that driver's
 * directory, so a clean close leaves nothing in /dev/shm.
 */
public final class AeronTransport implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AeronTransport.class);

    private final TransportConfig config;
    private final String directory;
    private final MediaDriver driver;
    private final Aeron aeron;
    private final AtomicReference<Throwable> clientError;
    private boolean closed;

    private AeronTransport(TransportConfig config, String directory, MediaDriver driver, Aeron aeron,
                           AtomicReference<Throwable> clientError) {
        this.config = config;
        this.directory = directory;
        this.driver = driver;
        this.aeron = aeron;
        this.clientError = clientError;
    }

    /** Starts (or attaches to) the driver this process uses and connects a client to it. */
    public static AeronTransport start(TransportConfig config) {
        String dir = config.driverDirectory();
        MediaDriver driver = config.startsDriver() ? launchDriver(config, dir) : null;
        AtomicReference<Throwable> errors = new AtomicReference<>();
        try {
            Aeron aeron = connect(config, dir, errors);
            AeronTransport transport = new AeronTransport(config, dir, driver, aeron, errors);
            LOG.debug("rank {} of group '{}' uses driver {} ({})", config.rank(), config.group(), dir,
                    driver != null ? "embedded" : "shared");
            return transport;
        } catch (RuntimeException e) {
            if (driver != null) {
                driver.close();
                deleteRecursively(new File(dir));
            }
            throw e;
        }
    }

    /** Heartbeat age past which a driver whose process is gone counts as dead (Aeron's driver timeout). */
    static final long STALE_HEARTBEAT_MS = 10_000;

    private static MediaDriver launchDriver(TransportConfig config, String dir) {
        File file = new File(dir);
        if (file.getParentFile() != null) {
            StaleDriverDirectories.reclaim(file.getParentFile(), STALE_HEARTBEAT_MS); // what kill -9 left behind
        }
        if (file.exists() && CommonContext.isDriverActive(file, 2_000, msg -> { })) {
            throw new CohortException("rank " + config.rank() + ": a media driver is already active in " + dir
                    + " (is another group named '" + config.group() + "' running? choose another group name)");
        }
        // Aeron's own liveness timeouts stay generous: a driver thread starved for a few seconds on a busy host
        // would otherwise time out healthy clients. Dead same-host peers are found by pid, others by the
        // progress timeout, both sooner.
        long livenessNs = Math.max(TimeUnit.SECONDS.toNanos(10), config.progressTimeout().toNanos());
        MediaDriver.Context ctx = new MediaDriver.Context()
                .aeronDirectoryName(dir)
                .dirDeleteOnStart(true)
                .dirDeleteOnShutdown(true)
                .warnIfDirectoryExists(false)
                .threadingMode(ThreadingMode.SHARED)
                .sharedIdleStrategy(new BackoffIdleStrategy(10, 20, 1_000, 100_000))
                .termBufferSparseFile(true)
                .ipcTermBufferLength(config.termLength())
                .publicationTermBufferLength(config.termLength())
                .ipcMtuLength(config.ipcMtu())
                .mtuLength(config.udpMtu())
                // a dead peer's image goes away within this, so a waiting rank learns of it
                .imageLivenessTimeoutNs(livenessNs)
                .clientLivenessTimeoutNs(livenessNs)
                .publicationUnblockTimeoutNs(livenessNs * 2)
                .errorHandler(t -> LOG.warn("media driver of rank {} in {}: {}", config.rank(), dir, t.toString()));
        try {
            return MediaDriver.launch(ctx);
        } catch (RuntimeException e) {
            throw new CohortException("rank " + config.rank() + ": cannot start the media driver in " + dir + ": "
                    + e.getMessage(), e);
        }
    }

    private static Aeron connect(TransportConfig config, String dir, AtomicReference<Throwable> errors) {
        long deadline = System.nanoTime() + config.connectTimeout().toNanos();
        RuntimeException last = null;
        while (System.nanoTime() - deadline < 0) {
            if (!new File(dir, "cnc.dat").exists()) {
                sleep(20); // rank 0 has not started the shared driver yet
                continue;
            }
            try {
                return Aeron.connect(new Aeron.Context()
                        .aeronDirectoryName(dir)
                        .driverTimeoutMs(Math.max(10_000, config.progressTimeout().toMillis()))
                        .errorHandler(t -> {
                            errors.compareAndSet(null, t);
                            LOG.debug("aeron client of rank {}: {}", config.rank(), t.toString());
                        }));
            } catch (DriverTimeoutException | IllegalStateException e) {
                last = e; // a stale or starting driver directory: retry until the deadline
                sleep(50);
            }
        }
        throw new CohortException("rank " + config.rank() + " of group '" + config.group()
                + "': no media driver answered in " + dir + " within " + config.connectTimeout().toMillis() + " ms"
                + (config.startsDriver() || !config.embeddedDriver() ? "" : " (rank 0 starts it)"), last);
    }

    /** The channel rank {@code rank} receives on. */
    String channelOf(int rank) {
        ChannelUriStringBuilder b = new ChannelUriStringBuilder().termLength(config.termLength());
        if (config.channel() == TransportConfig.Channel.IPC) {
            return b.media("ipc").mtu(config.ipcMtu()).build();
        }
        return b.media("udp").endpoint(config.endpoints().get(rank)).mtu(config.udpMtu()).build();
    }

    /** The stream rank {@code rank} receives on. */
    int streamOf(int rank) {
        return config.channel() == TransportConfig.Channel.IPC ? config.streamId() + rank : config.streamId();
    }

    /**
     * A single-writer publication to {@code rank}'s inbox. Over udp it sends from this rank's announced source
     * (its {@code sources} entry, else its endpoint's host on any port), never from every interface.
     */
    ExclusivePublication publicationTo(int rank) {
        String channel = channelOf(rank);
        if (config.channel() == TransportConfig.Channel.UDP) {
            String from = config.sources().isEmpty() ? SourceFilter.host(config.endpoints().get(config.rank())) + ":0"
                    : config.sources().get(config.rank());
            channel = new ChannelUriStringBuilder(channel).networkInterface(from).build();
        }
        return aeron.addExclusivePublication(channel, streamOf(rank));
    }

    /**
     * This process's inbox: what its left neighbour (and any stray sender) publishes to it. An image from a
     * source the group did not announce for the left neighbour is logged once; its frames are dropped.
     */
    Subscription inbox(SourceFilter sources, int left) {
        String channel = config.channel() == TransportConfig.Channel.IPC ? "aeron:ipc" : channelOf(config.rank());
        return aeron.addSubscription(channel, streamOf(config.rank()), image -> {
            if (!sources.announced(left, image.sourceIdentity())) {
                LOG.warn("rank {} of group '{}': dropping frames from {} (session {}): not the source announced for "
                                + "rank {} ({})", config.rank(), config.group(), image.sourceIdentity(),
                        image.sessionId(), left, sources.expected(left));
            }
        }, image -> { });
    }

    public Aeron aeron() {
        return aeron;
    }

    public TransportConfig config() {
        return config;
    }

    /** Driver directory in use (embedded or external). */
    public String directory() {
        return directory;
    }

    /** An asynchronous error the client reported (e.g. its driver went away), or null. */
    Throwable clientError() {
        return clientError.get();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            aeron.close();
        } catch (RuntimeException e) {
            LOG.debug("closing aeron client of rank {}: {}", config.rank(), e.toString());
        }
        if (driver != null) {
            driver.close();
            deleteRecursively(new File(directory));
        }
    }

    static void deleteRecursively(File dir) {
        if (!dir.exists()) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir.toPath())) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.warn("could not delete {}: {}", dir, e.toString());
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CohortException("interrupted while connecting to the media driver", e);
        }
    }
}
