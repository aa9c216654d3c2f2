package io.cohort.actor;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.IdlePolicy;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.group.CollectiveResult;
import io.cohort.memory.MemoryPool;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The control plane of one Cohort: keeps one {@link DeviceActor} per device lane ({@link DeviceLanes}) and one {@link GroupSequencer}
 * per group; creates each group's backend ({@link GroupBackends}) once every device has its stream and hands
 * it to the sequencer; after a failure ({@link Recovery}) (reported by the sequencer: an enqueue that threw, work
 * that failed on a device, a deadline passed) resets the streams of the group's devices and hands over a fresh
 * backend; closes groups once their work is done; shuts everything down. Collectives themselves never pass
 * through it: callers enqueue them on their own threads ({@link GroupSequencer}).
 *
 * <p>After a failure the group's devices get fresh streams and the group a fresh backend: work already
 * enqueued may wait forever for the rank that failed, so nothing of the old instance is reused.
 */
public final class Coordinator extends AbstractBehavior<Coordinator.Command> {

    /** What the coordinator is told (by the API, by device actors, by the data plane, by its timers). */
    public sealed interface Command {
    }

    /**
     * Create a group of {@code devices} (rank r = devices.get(r)) with the requested backend; {@code overrides}
     * (e.g. {@code algorithm.force = ring}) go over the {@code cohort} config for this group's backend. With
     * {@code sharedDevices} a device may be several ranks (each on a lane of its own); without, that is refused.
     */
    public record CreateGroup(List<Device> devices, BackendKind requested, Config overrides, boolean sharedDevices,
                              CompletableFuture<GroupInfo> reply) implements Command {
        public CreateGroup(List<Device> devices, BackendKind requested, CompletableFuture<GroupInfo> reply) {
            this(devices, requested, ConfigFactory.empty(), false, reply);
        }

        public CreateGroup(List<Device> devices, BackendKind requested, Config overrides,
                           CompletableFuture<GroupInfo> reply) {
            this(devices, requested, overrides, false, reply);
        }
    }

    /**
     * Run {@code call} on a group from the coordinator's thread (tools and tests; the API enqueues on the
     * caller's thread through {@link GroupInfo#sequencer()}); {@code send[r]} and {@code recv[r]} are rank r's
     * buffers.
     */
    public record Submit(int group, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv, long submittedNanos,
                         CompletableFuture<CollectiveResult> reply) implements Command {
    }

    /** How the group's backend carries out {@code call}: the algorithm and the backend's description. */
    public record Describe(int group, CollectiveCall call, CompletableFuture<String> reply) implements Command {
    }

    /** Close a group once its collectives in flight are done (or failed). */
    public record CloseGroup(int group, CompletableFuture<Void> reply) implements Command {
    }

    /** Fail what is pending, close every backend, stop every device actor, close the pools, then stop. */
    public record Shutdown(CompletableFuture<Void> reply) implements Command {
    }

    private record FromDevice(DeviceActor.Report report) implements Command {
    }

    /** From the data plane: epoch {@code epochId} of group {@code group} broke. */
    private record GroupFailed(int group, long epochId, String reason) implements Command {
    }

    /** From the data plane: a closing group has nothing in flight any more. */
    private record GroupDrained(int group) implements Command {
    }

    /** Periodic: fail the calls that waited too long for a recovering group (one timer for all). */
    private enum Sweep implements Command {
        INSTANCE
    }

    public static Behavior<Command> create(Environment env) {
        return create(env, new CompletableFuture<>());
    }

    /** Like {@link #create(Environment)}; {@code stopped} completes when the coordinator has stopped, for any reason. */
    public static Behavior<Command> create(Environment env, CompletableFuture<Void> stopped) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Coordinator(ctx, timers, env, stopped)));
    }

    private final Environment env;
    private final CompletionPoller poller;
    private final Duration timeout;
    private final IdlePolicy callerIdle;
    private final ActorRef<DeviceActor.Report> reports;
    private final GroupSequencer.ControlPlane control;
    private final CompletableFuture<Void> stopped;
    private final DeviceLanes lanes;
    private final Map<Integer, GroupState> groups = new HashMap<>();
    private final GroupBackends backends;
    private int nextGroupId = 1;
    private CompletableFuture<Void> shutdownReply;
    /** What made a handler throw (the coordinator then stops): every later call is told. */
    private Throwable crash;

    private Coordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, Environment env,
                        CompletableFuture<Void> stopped) {
        super(ctx);
        this.env = env;
        this.stopped = stopped;
        this.timeout = env.collectiveTimeout();
        this.backends = new GroupBackends(env.backends());
        this.callerIdle = IdlePolicy.of(env.cohortConfig(), "caller");
        this.reports = ctx.messageAdapter(DeviceActor.Report.class, FromDevice::new);
        this.lanes = new DeviceLanes(env.pools(), (device, lane, order) -> ctx.spawn(DeviceActor.create(device, lane, reports),
                "device-" + order, DispatcherSelector.fromConfig("cohort.device-dispatcher")));
        this.poller = new CompletionPoller("cohort-completions-" + ctx.getSelf().path().name(),
                IdlePolicy.of(env.cohortConfig(), "poller"), CompletionPoller.Timing.of(env.cohortConfig()));
        ActorRef<Command> self = ctx.getSelf();
        this.control = new GroupSequencer.ControlPlane() {
            @Override
            public void failed(GroupSequencer group, long epochId, String reason) {
                self.tell(new GroupFailed(group.id(), epochId, reason));
            }

            @Override
            public void drained(GroupSequencer group) {
                self.tell(new GroupDrained(group.id()));
            }
        };
        Duration sweep = Duration.ofMillis(Math.clamp(timeout.toMillis() / 10, 10, 1_000));
        timers.startTimerAtFixedRate(Sweep.INSTANCE, sweep);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(CreateGroup.class, guarded(this::onCreateGroup))
                .onMessage(Submit.class, guarded(this::onSubmit))
                .onMessage(Describe.class, guarded(this::onDescribe))
                .onMessage(CloseGroup.class, guarded(this::onCloseGroup))
                .onMessage(FromDevice.class, guarded(m -> onReport(m.report())))
                .onMessage(GroupFailed.class, guarded(this::onGroupFailed))
                .onMessage(GroupDrained.class, guarded(this::onGroupDrained))
                .onMessage(Sweep.class, guarded(m -> onSweep()))
                .onMessage(Shutdown.class, guarded(this::onShutdown))
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    /** Remembers what a handler threw (for every pending and later call), then lets the actor stop. */
    private <M> org.apache.pekko.japi.function.Function<M, Behavior<Command>> guarded(
            java.util.function.Function<M, Behavior<Command>> handler) {
        return m -> {
            try {
                return handler.apply(m);
            } catch (RuntimeException | Error e) {
                crash = e;
                getContext().getLog().error("the Cohort coordinator failed handling {}; stopping", m, e);
                throw e;
            }
        };
    }

    // ---- groups ------------------------------------------------------------------------------------------

    private Behavior<Command> onCreateGroup(CreateGroup m) {
        try {
            if (m.devices().isEmpty()) {
                throw new CohortException("a group needs at least one device");
            }
            DeviceSlot[] ranks = lanes.of(m.devices(), m.sharedDevices());
            Topology topology = env.topologies().apply(m.devices());
            int id = nextGroupId++;
            GroupSequencer sequencer = new GroupSequencer(id, ranks, poller, control, timeout, env.metrics(), callerIdle);
            GroupState g = new GroupState(id, ranks, topology, m.requested(),
                    m.overrides().withFallback(env.cohortConfig()), sequencer);
            g.pendingCreate = m.reply();
            groups.put(g.id, g);
            activate(g);
        } catch (RuntimeException e) {
            m.reply().completeExceptionally(e);
        }
        return this;
    }

    /**
     * Once every device of the group has a stream: brings its backend up to date (a fresh one when a stream
     * changed), hands it to the sequencer (which starts the calls parked meanwhile), answers a pending create.
     */
    private void activate(GroupState g) {
        if (!g.allReady() || g.pendingClose != null) {
            return;
        }
        try {
            if (backends.bringUpToDate(g)) {
                getContext().getLog().debug("group {} ({} ranks): {}", g.id, g.ranks.length, g.resolution.choice());
            }
        } catch (RuntimeException e) {
            if (g.pendingCreate != null) {
                groups.remove(g.id);
                g.sequencer.shutdown("group " + g.id + " was not created: " + e.getMessage());
                g.sequencer.release();
                g.pendingCreate.completeExceptionally(e);
                g.pendingCreate = null;
            } else {
                g.sequencer.failParked("group " + g.id + " has no backend: " + e.getMessage());
            }
            return;
        }
        if (g.pendingCreate != null) {
            List<Device> ds = Arrays.stream(g.ranks).map(s -> s.device).toList();
            List<MemoryPool> pools = Arrays.stream(g.ranks).map(s -> s.pool).toList();
            g.pendingCreate.complete(new GroupInfo(g.id, ds, pools, g.topology, g.resolution.choice(), g.sequencer));
            g.pendingCreate = null;
        }
    }

    private Behavior<Command> onSubmit(Submit m) {
        GroupState g = groups.get(m.group());
        if (g == null) {
            m.reply().completeExceptionally(new CohortException("group " + m.group() + " is closed"));
            return this;
        }
        try {
            g.sequencer.submit(m.call(), m.send(), m.recv(), m.submittedNanos()).whenComplete((r, e) -> {
                if (e != null) {
                    m.reply().completeExceptionally(e);
                } else {
                    m.reply().complete(r);
                }
            });
        } catch (RuntimeException e) {
            m.reply().completeExceptionally(e);
        }
        return this;
    }

    private Behavior<Command> onDescribe(Describe m) {
        GroupState g = groups.get(m.group());
        if (g == null || g.resolution == null) {
            m.reply().completeExceptionally(new CohortException("group " + m.group() + " is closed or has no backend"));
        } else {
            try {
                m.reply().complete(g.resolution.algorithm().apply(m.call()) + ": " + g.resolution.backend().describe(m.call()));
            } catch (RuntimeException e) {
                m.reply().completeExceptionally(e);
            }
        }
        return this;
    }

    private Behavior<Command> onCloseGroup(CloseGroup m) {
        GroupState g = groups.get(m.group());
        if (g == null) {
            m.reply().complete(null);
            return this;
        }
        if (g.pendingClose != null) {
            g.pendingClose.whenComplete((v, e) -> m.reply().complete(null));
            return this;
        }
        g.pendingClose = m.reply();
        g.sequencer.close(); // GroupDrained follows once nothing is in flight
        return this;
    }

    private Behavior<Command> onGroupDrained(GroupDrained m) {
        GroupState g = groups.get(m.group());
        if (g == null || g.pendingClose == null) {
            return this;
        }
        groups.remove(g.id);
        backends.drop(g);
        g.sequencer.release();
        g.pendingClose.complete(null);
        return this;
    }

    // ---- failures ----------------------------------------------------------------------------------------

    private Behavior<Command> onReport(DeviceActor.Report report) {
        switch (report) {
            case DeviceActor.Ready r -> onReady(r);
            case DeviceActor.Crashed c -> onCrashed(c);
        }
        return this;
    }

    private void onReady(DeviceActor.Ready r) {
        DeviceSlot slot = lanes.of(r);
        if (slot == null) {
            return;
        }
        slot.stream = r.stream();
        slot.generation++;
        slot.ready = true;
        for (GroupState g : List.copyOf(groups.values())) {
            if (g.uses(slot)) {
                activate(g);
            }
        }
    }

    private Behavior<Command> onGroupFailed(GroupFailed m) {
        GroupState g = groups.get(m.group());
        GroupSequencer.Epoch e = g == null ? null : g.sequencer.epoch();
        if (e == null || e.id != m.epochId()) {
            return this; // recovering already (or closed)
        }
        recover(g, m.reason());
        return this;
    }

    private void onCrashed(DeviceActor.Crashed c) {
        DeviceSlot slot = lanes.of(c);
        if (slot == null) {
            return;
        }
        getContext().getLog().error("device actor of {} failed, restarting it", slot.name(), c.cause());
        slot.ready = false; // the restarted actor reports a fresh stream
        for (GroupState g : List.copyOf(groups.values())) {
            if (g.uses(slot)) {
                recover(g, "the actor of " + slot.name() + " crashed: " + c.cause());
            }
        }
    }

    private void recover(GroupState g, String reason) {
        backends.drop(g);
        Recovery.resetDevicesOf(g, groups.values(), reason, timeout);
    }

    private Behavior<Command> onSweep() {
        Recovery.failOverdueParked(groups.values(), System.nanoTime(), timeout);
        return this;
    }

    /** Size of a collective as nccl-tests counts it: the larger of one rank's send and recv buffers. */
    public static long messageBytes(CollectiveCall call, int ranks) {
        return Math.max(call.sendBytes(ranks), call.recvBytes(ranks));
    }

    // ---- shutdown ----------------------------------------------------------------------------------------

    private Behavior<Command> onShutdown(Shutdown m) {
        for (GroupState g : groups.values()) {
            g.sequencer.shutdown("group " + g.id + " is closed: its Cohort closed");
            if (g.pendingCreate != null) {
                g.pendingCreate.completeExceptionally(new CohortException("cohort closed while the group was created"));
            }
            if (g.pendingClose != null) {
                g.pendingClose.complete(null);
            }
            backends.drop(g);
            g.sequencer.release();
        }
        groups.clear();
        shutdownReply = m.reply();
        return Behaviors.stopped(); // children (device actors) stop first, then PostStop below
    }

    private Behavior<Command> onPostStop() {
        // after Shutdown nothing is pending; after an unexpected stop, no caller may wait forever
        String why = crash == null ? "the Cohort coordinator stopped"
                : "the Cohort coordinator stopped after an internal error: " + crash;
        for (GroupState g : groups.values()) {
            g.sequencer.shutdown(why);
            if (g.pendingCreate != null) {
                g.pendingCreate.completeExceptionally(new CohortException(why));
            }
            if (g.pendingClose != null) {
                g.pendingClose.complete(null);
            }
            if (g.resolution != null) {
                Reaper.closeQuietly("backend of group " + g.id, g.resolution.backend()::close);
            }
            g.sequencer.release();
        }
        groups.clear();
        poller.close(); // the device actors (children) have stopped
        if (!Reaper.awaitIdle(5_000)) {
            getContext().getLog().warn("some device streams did not close within 5 s");
        }
        lanes.closePools();
        if (shutdownReply != null) {
            shutdownReply.complete(null);
        }
        stopped.complete(null);
        return this;
    }

    /** For logs: which groups use which devices. */
    @Override
    public String toString() {
        return "Coordinator[" + groups.values().stream()
                .map(g -> g.id + ":" + IntStream.range(0, g.ranks.length).mapToObj(r -> g.ranks[r].device.name())
                        .collect(Collectors.joining(",")))
                .collect(Collectors.joining(" ")) + "]";
    }
}
