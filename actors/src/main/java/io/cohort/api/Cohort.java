package io.cohort.api;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.actor.Coordinator;
import io.cohort.actor.Environment;
import io.cohort.actor.Environments;
import io.cohort.actor.GroupInfo;
import io.cohort.backend.BackendKind;
import io.cohort.config.ConfigValidator;
import io.cohort.core.CohortException;
import io.cohort.device.Device;
import io.cohort.device.discovery.DeviceSpec;
import io.cohort.device.discovery.Devices;
import io.cohort.metrics.CollectiveMetrics;
import io.cohort.metrics.MetricRow;
import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Entry point of the embedded API: a coordinator actor and one actor per device, in an actor system of its
 * own ({@link #start}) or of the application ({@link #inside}).
 *
 * <pre>{@code
 * try (Cohort cohort = Cohort.start(ConfigFactory.load())) {
 *     CohortGroup group = cohort.group(cohort.devices("host:4"), BackendKind.AUTO);
 *     List<Tensor> t = group.allocate(DType.F32, 1024);
 *     group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join();
 * }
 * }</pre>
 */
public final class Cohort implements AutoCloseable {

    private static final AtomicInteger instances = new AtomicInteger();

    private final ActorSystem<?> system;
    private final boolean ownsSystem;
    private final Environment env;
    private final ActorRef<Coordinator.Command> coordinator;
    private final Duration apiTimeout;
    private final List<Device> opened = new CopyOnWriteArrayList<>();
    /** Devices opened by a shared spec ({@code host:0*2}): a group may put several ranks on them. */
    private final Set<Device> shared = Collections.newSetFromMap(Collections.synchronizedMap(new IdentityHashMap<>()));
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Completes when the coordinator has stopped, for whatever reason: no blocking call then waits for it. */
    private final CompletableFuture<Void> coordinatorStopped = new CompletableFuture<>();

    private Cohort(ActorSystem<?> system, boolean ownsSystem, Environment env) {
        this.system = system;
        this.ownsSystem = ownsSystem;
        this.env = env;
        this.apiTimeout = env.cohortConfig().getDuration("api.timeout");
        this.coordinator = system.systemActorOf(Coordinator.create(env, coordinatorStopped),
                "cohort-" + instances.incrementAndGet(), Props.empty());
    }

    /**
     * Starts Cohort in an actor system of its own, configured by {@code config} (its {@code cohort} section).
     * The {@code cohort} keys are checked first: an unknown key, a wrongly typed value or a value outside its
     * choices throws {@link io.cohort.config.InvalidConfigException} with one line, before anything starts.
     */
    public static Cohort start(Config config) {
        Config full = config.withFallback(ConfigFactory.defaultReference()).resolve();
        ConfigValidator.check(full);
        return start(full, Environments.defaults(full.getConfig("cohort")));
    }

    /** Starts Cohort with the default configuration ({@code application.conf} over the reference). */
    public static Cohort start() {
        return start(ConfigFactory.load());
    }

    /** Starts Cohort in an actor system of its own, with the given parts (custom pools, detectors, backends). */
    public static Cohort start(Config config, Environment env) {
        // Cohort's own system logs through SLF4J like the rest of Cohort, and is quiet about shutdown
        Config own = ConfigFactory.parseString("""
                pekko.loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
                pekko.logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
                pekko.log-dead-letters-during-shutdown = off
                """).withFallback(config);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "cohort", own);
        return new Cohort(system, true, env);
    }

    /** Cohort inside the application's actor system; {@link #close} stops Cohort's actors, not the system. */
    public static Cohort inside(ActorSystem<?> system) {
        return new Cohort(system, false, Environments.defaults(system.settings().config().getConfig("cohort")));
    }

    /** Like {@link #inside(ActorSystem)} with the given parts. */
    public static Cohort inside(ActorSystem<?> system, Environment env) {
        return new Cohort(system, false, env);
    }

    /**
     * Opens devices, e.g. {@code "host:4"}, {@code "cuda"}, {@code "cuda:2"} or {@code "auto"} (GPUs if any,
     * else {@code cohort.devices.host-count} host devices). Cohort closes them when it closes. {@code "cuda:0*2"}
     * or {@code "host:0*4"} is one device at every rank, each rank with its own stream and its share of the pool:
     * an aid for development and tests, never a multi-device figure. A bad spec throws an
     * {@link IllegalArgumentException} with a one-line message naming it.
     */
    public List<Device> devices(String spec) {
        return selectDevices(spec).devices();
    }

    /** Like {@link #devices(String)}, also saying why these devices (e.g. "auto: no CUDA device found"). */
    public Devices.Selection selectDevices(String spec) {
        checkOpen();
        Devices.Selection selection = Devices.open(DeviceSpec.parse(spec), env.cohortConfig());
        opened.addAll(Devices.distinct(selection.devices()));
        if (selection.shared()) {
            shared.addAll(selection.devices());
        }
        return selection;
    }

    /** A group of {@code devices} (rank r = devices.get(r)) with the requested backend (AUTO: the best that works). */
    public CohortGroup group(List<? extends Device> devices, BackendKind backend) {
        return group(devices, backend, ConfigFactory.empty());
    }

    /**
     * Like {@link #group(List, BackendKind)}, with settings over the {@code cohort} config for this group only,
     * e.g. {@code ConfigFactory.parseString("algorithm.force = ring")}.
     */
    public CohortGroup group(List<? extends Device> devices, BackendKind backend, Config overrides) {
        checkOpen();
        CompletableFuture<GroupInfo> reply = new CompletableFuture<>();
        boolean sharing = devices.stream().anyMatch(shared::contains);
        coordinator.tell(new Coordinator.CreateGroup(List.copyOf(devices), backend, overrides, sharing, reply));
        return new CohortGroup(coordinator, closed::get,
                await(reply, "creating a group of " + devices.size() + " devices"), apiTimeout,
                apiTimeout.plus(env.collectiveTimeout()), coordinatorStopped);
    }

    /** The {@code cohort} config section this Cohort runs with. */
    public Config config() {
        return env.cohortConfig();
    }

    /** Per collective, backend, algorithm and size: counts, bytes and times so far. */
    public List<MetricRow> metrics() {
        return env.metrics().snapshot();
    }

    /** The live metrics (also renders them as a table). */
    public CollectiveMetrics collectiveMetrics() {
        return env.metrics();
    }

    public ActorSystem<?> system() {
        return system;
    }

    /**
     * Fails what is pending, closes every group's backend, stops the device actors, closes the pools and the
     * devices this Cohort opened, and (for {@link #start}) terminates the actor system. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            CompletableFuture<Void> done = new CompletableFuture<>();
            coordinator.tell(new Coordinator.Shutdown(done));
            awaitClosed(done, coordinatorStopped, "shutting down", apiTimeout);
        } finally {
            if (ownsSystem) {
                system.terminate();
                try {
                    system.getWhenTerminated().toCompletableFuture().get(apiTimeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (ExecutionException | TimeoutException e) {
                    // the coordinator already released the devices; nothing more to do
                }
            }
            opened.forEach(Device::close);
            opened.clear();
            shared.clear();
        }
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new CohortException("cohort is closed");
        }
        if (coordinatorStopped.isDone()) {
            throw new CohortException("the Cohort coordinator has stopped: close this Cohort and start another");
        }
    }

    /** Waits for {@code f}; fails at once, saying so, if the coordinator stops first (the answer will never come). */
    static <T> T await(CompletableFuture<T> f, CompletableFuture<Void> stopped, String what, Duration timeout) {
        if (!awaitEither(f, stopped, timeout)) {
            throw new CohortException(what + " failed: the Cohort coordinator has stopped");
        }
        return await(f, what, timeout);
    }

    /** Waits for {@code f} (closing something); returns at once if the coordinator has stopped: it closed everything. */
    static void awaitClosed(CompletableFuture<Void> f, CompletableFuture<Void> stopped, String what, Duration timeout) {
        if (awaitEither(f, stopped, timeout)) {
            await(f, what, timeout);
        }
    }

    /** False if the coordinator stopped and {@code f} did not complete. */
    private static boolean awaitEither(CompletableFuture<?> f, CompletableFuture<Void> stopped, Duration timeout) {
        try {
            CompletableFuture.anyOf(f, stopped).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // reported by the wait on f itself
        }
        return f.isDone() || !stopped.isDone();
    }

    static <T> T await(CompletableFuture<T> f, String what, Duration timeout) {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CohortException("interrupted while " + what, e);
        } catch (TimeoutException e) {
            throw new CohortException("timed out after " + timeout.toMillis() + " ms while " + what);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof CohortException c) {
                throw c;
            }
            throw new CohortException(what + " failed: " + e.getCause(), e.getCause());
        }
    }

    private <T> T await(CompletableFuture<T> f, String what) {
        return await(f, coordinatorStopped, what, apiTimeout);
    }
}
