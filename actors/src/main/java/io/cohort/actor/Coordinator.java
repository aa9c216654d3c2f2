package io.cohort.actor;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.metrics.CollectiveEvent;
import io.cohort.group.CollectiveFailedException;
import io.cohort.group.CollectiveResult;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.CohortException;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.memory.MemoryPool;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import jdk.jfr.EventType;
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
 * Runs the collectives of every group of one Cohort. Keeps one {@link DeviceActor} per device, creates each
 * group's backend (through the {@link BackendResolver}) once every device has its stream, assigns the
 * group's sequence numbers, sends each rank its part, gathers the completions, and fails a collective that
 * a device threw on or that did not finish within {@code cohort.collective.timeout}, naming the devices.
 *
 * <p>After a failure the group's devices get fresh streams and the group a fresh backend: work already
 * enqueued may wait forever for the rank that failed, so nothing of the old instance is reused.
 */
public final class Coordinator extends AbstractBehavior<Coordinator.Command> {

    /** What the coordinator is told (by the API, by device actors, by its timers). */
    public sealed interface Command {
    }

    /**
     * Create a group of {@code devices} (rank r = devices.get(r)) with the requested backend; {@code overrides}
     * (e.g. {@code algorithm.force = ring}) go over the {@code cohort} config for this group's backend.
     */
    public record CreateGroup(List<Device> devices, BackendKind requested, Config overrides,
                              CompletableFuture<GroupInfo> reply) implements Command {
        public CreateGroup(List<Device> devices, BackendKind requested, CompletableFuture<GroupInfo> reply) {
            this(devices, requested, ConfigFactory.empty(), reply);
        }
    }

    /**
     * Run {@code call} on a group; {@code send[r]} and {@code recv[r]} are rank r's buffers (validated by the
     * caller). {@code submittedNanos}: when the API was called, for the host path latency.
     */
    public record Submit(int group, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv, long submittedNanos,
                         CompletableFuture<CollectiveResult> reply) implements Command {
    }

    /** How the group's backend carries out {@code call}: the algorithm and the backend's description. */
    public record Describe(int group, CollectiveCall call, CompletableFuture<String> reply) implements Command {
    }

    /** Close a group once its collectives in flight are done. */
    public record CloseGroup(int group, CompletableFuture<Void> reply) implements Command {
    }

    /** Fail what is pending, close every backend, stop every device actor, close the pools, then stop. */
    public record Shutdown(CompletableFuture<Void> reply) implements Command {
    }

    private record FromDevice(DeviceActor.Report report) implements Command {
    }

    /** Periodic: fail the collectives past their deadline (one timer for all, none per call). */
    private enum Sweep implements Command {
        INSTANCE
    }

    public static Behavior<Command> create(Environment env) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Coordinator(ctx, timers, env)));
    }

    private static final EventType JFR_TYPE = EventType.getEventType(CollectiveEvent.class);

    private final Environment env;
    private final CompletionPoller poller;
    private final Duration timeout;
    private final ActorRef<DeviceActor.Report> reports;
    private final Map<Device, DeviceSlot> devices = new IdentityHashMap<>();
    private final Map<Integer, GroupState> groups = new HashMap<>();
    private final Map<Long, InFlight> inFlight = new HashMap<>();
    private int nextGroupId = 1;
    private long nextCollectiveId = 1;
    private CompletableFuture<Void> shutdownReply;

    private Coordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, Environment env) {
        super(ctx);
        this.env = env;
        this.timeout = env.collectiveTimeout();
        this.reports = ctx.messageAdapter(DeviceActor.Report.class, FromDevice::new);
        this.poller = new CompletionPoller("cohort-completions-" + ctx.getSelf().path().name());
        Duration sweep = Duration.ofMillis(Math.clamp(timeout.toMillis() / 10, 10, 1_000));
        timers.startTimerAtFixedRate(Sweep.INSTANCE, sweep);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(CreateGroup.class, this::onCreateGroup)
                .onMessage(Submit.class, this::onSubmit)
                .onMessage(Describe.class, this::onDescribe)
                .onMessage(CloseGroup.class, this::onCloseGroup)
                .onMessage(FromDevice.class, m -> onReport(m.report()))
                .onMessage(Sweep.class, m -> onSweep())
                .onMessage(Shutdown.class, this::onShutdown)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    // ---- groups ------------------------------------------------------------------------------------------

    private Behavior<Command> onCreateGroup(CreateGroup m) {
        try {
            if (m.devices().isEmpty()) {
                throw new CohortException("a group needs at least one device");
            }
            DeviceSlot[] ranks = new DeviceSlot[m.devices().size()];
            for (int r = 0; r < ranks.length; r++) {
                Device d = m.devices().get(r);
                for (int q = 0; q < r; q++) {
                    if (ranks[q].device == d) {
                        throw new CohortException(d.name() + " is rank " + q + " and rank " + r + " of one group");
                    }
                }
                ranks[r] = slotOf(d);
            }
            Topology topology = env.topologies().apply(m.devices());
            GroupState g = new GroupState(nextGroupId++, ranks, topology, m.requested(),
                    m.overrides().withFallback(env.cohortConfig()));
            g.pendingCreate = m.reply();
            groups.put(g.id, g);
            activate(g);
        } catch (RuntimeException e) {
            m.reply().completeExceptionally(e);
        }
        return this;
    }

    private DeviceSlot slotOf(Device d) {
        DeviceSlot slot = devices.get(d);
        if (slot == null) {
            MemoryPool pool = env.pools().apply(d);
            ActorRef<DeviceActor.Command> actor = getContext().spawn(DeviceActor.create(d, reports, poller),
                    "device-" + devices.size(), DispatcherSelector.fromConfig("cohort.device-dispatcher"));
            slot = new DeviceSlot(d, pool, actor);
            devices.put(d, slot);
        }
        return slot;
    }

    /**
     * Brings a group's backend up to date once every device of it has a stream, answers a pending
     * CreateGroup, and starts the collectives parked meanwhile.
     */
    private void activate(GroupState g) {
        if (!g.allReady()) {
            return;
        }
        if (!g.current()) {
            if (g.resolution != null) {
                var old = g.resolution.backend();
                Reaper.closeQuietly("backend of group " + g.id, old::close);
                g.resolution = null;
            }
            try {
                List<RankContext> ranks = new ArrayList<>(g.ranks.length);
                for (int r = 0; r < g.ranks.length; r++) {
                    DeviceSlot s = g.ranks[r];
                    ranks.add(new RankContext(r, s.device, s.stream, s.pool));
                    g.builtGenerations[r] = s.generation;
                }
                g.resolution = env.backends().resolve(g.requested, new GroupContext(g.topology, ranks, g.config));
                g.algorithms.clear();
                g.seq = 0;
                getContext().getLog().debug("group {} ({} ranks): {}", g.id, g.ranks.length, g.resolution.choice());
            } catch (RuntimeException e) {
                if (g.pendingCreate != null) {
                    groups.remove(g.id);
                    g.pendingCreate.completeExceptionally(e);
                    g.pendingCreate = null;
                }
                Submit s;
                while ((s = g.parked.poll()) != null) {
                    s.reply().completeExceptionally(new CohortException("group " + g.id + " has no backend: " + e.getMessage(), e));
                }
                return;
            }
        }
        if (g.pendingCreate != null) {
            List<Device> ds = Arrays.stream(g.ranks).map(s -> s.device).toList();
            List<MemoryPool> pools = Arrays.stream(g.ranks).map(s -> s.pool).toList();
            g.pendingCreate.complete(new GroupInfo(g.id, ds, pools, g.topology, g.resolution.choice()));
            g.pendingCreate = null;
        }
        Submit s;
        while (g.current() && (s = g.parked.poll()) != null) {
            start(g, s);
        }
    }

    private Behavior<Command> onDescribe(Describe m) {
        GroupState g = groups.get(m.group());
        if (g == null || g.resolution == null) {
            m.reply().completeExceptionally(new CohortException("group " + m.group() + " is closed or has no backend"));
        } else {
            try {
                m.reply().complete(g.algorithm(m.call()) + ": " + g.resolution.backend().describe(m.call()));
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
        Submit s;
        while ((s = g.parked.poll()) != null) {
            s.reply().completeExceptionally(new CohortException("group " + g.id + " closed before the collective started"));
        }
        g.pendingClose = m.reply();
        closeIfIdle(g);
        return this;
    }

    private void closeIfIdle(GroupState g) {
        if (g.pendingClose == null || g.inFlight > 0) {
            return;
        }
        groups.remove(g.id);
        if (g.resolution != null) {
            g.resolution.backend().close();
            g.resolution = null;
        }
        g.pendingClose.complete(null);
    }

    // ---- collectives -------------------------------------------------------------------------------------

    private Behavior<Command> onSubmit(Submit m) {
        GroupState g = groups.get(m.group());
        if (g == null || g.pendingClose != null) {
            m.reply().completeExceptionally(new CohortException("group " + m.group() + " is closed"));
        } else if (!g.parked.isEmpty() || !g.current()) {
            g.parked.add(m); // devices are getting fresh streams: run once the backend is rebuilt
            activate(g);
        } else {
            start(g, m);
        }
        return this;
    }

    private void start(GroupState g, Submit m) {
        String algorithm;
        try {
            algorithm = g.algorithm(m.call());
        } catch (RuntimeException e) {
            m.reply().completeExceptionally(new CohortException("group " + g.id + " cannot run "
                    + m.call().collective().cliName() + ": " + e.getMessage(), e));
            return;
        }
        long id = nextCollectiveId++;
        long seq = ++g.seq;
        CollectiveEvent event = null;
        if (JFR_TYPE.isEnabled()) {
            event = new CollectiveEvent();
            event.begin();
        }
        InFlight f = new InFlight(id, g, m, seq, algorithm, event, System.nanoTime() + timeout.toNanos());
        inFlight.put(id, f);
        g.inFlight++;
        var backend = g.resolution.backend();
        for (int r = 0; r < g.ranks.length; r++) {
            g.ranks[r].actor.tell(new DeviceActor.Enqueue(id, backend, r, seq, m.call(), m.send()[r], m.recv()[r]));
        }
    }

    private Behavior<Command> onReport(DeviceActor.Report report) {
        switch (report) {
            case DeviceActor.Ready r -> onReady(r);
            case DeviceActor.StepDone d -> onStepDone(d);
            case DeviceActor.StepFailed f -> onStepFailed(f);
            case DeviceActor.Crashed c -> onCrashed(c);
        }
        return this;
    }

    private void onReady(DeviceActor.Ready r) {
        DeviceSlot slot = devices.get(r.device());
        if (slot == null) {
            return;
        }
        slot.stream = r.stream();
        slot.generation++;
        slot.ready = true;
        for (GroupState g : List.copyOf(groups.values())) {
            if (g.uses(slot) && (g.pendingCreate != null || !g.parked.isEmpty())) {
                activate(g);
            }
        }
    }

    private void onStepDone(DeviceActor.StepDone d) {
        InFlight f = inFlight.get(d.collectiveId());
        if (f == null || f.done[d.rank()]) {
            return; // failed or timed out already
        }
        f.done[d.rank()] = true;
        f.lastEnqueuedNanos = Math.max(f.lastEnqueuedNanos, d.enqueuedNanos());
        if (--f.remaining == 0) {
            long now = System.nanoTime();
            finish(f);
            CollectiveCall call = f.submit.call();
            long bytes = messageBytes(call, f.group.ranks.length);
            long enqueue = f.lastEnqueuedNanos - f.submit.submittedNanos();
            long elapsed = now - f.submit.submittedNanos();
            BackendKind kind = f.group.resolution.choice().chosen();
            env.metrics().recordCompleted(call.collective(), kind, f.algorithm, bytes, enqueue, elapsed);
            commitEvent(f, bytes, true);
            f.submit.reply().complete(new CollectiveResult(call.collective(), f.seq, kind, f.algorithm, bytes,
                    f.group.ranks.length, enqueue, elapsed));
        }
    }

    private void onStepFailed(DeviceActor.StepFailed m) {
        InFlight f = inFlight.get(m.collectiveId());
        if (f == null) {
            return;
        }
        Throwable cause = m.cause();
        String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        fail(f, describe(f) + " failed: rank " + m.rank() + " on " + m.device().name() + " threw: " + why,
                List.of(m.device().name()), cause);
        recover(f.group, "rank " + m.rank() + " on " + m.device().name() + " failed");
    }

    private void onCrashed(DeviceActor.Crashed c) {
        getContext().getLog().error("device actor of {} failed, restarting it", c.device().name(), c.cause());
        DeviceSlot slot = devices.get(c.device());
        if (slot == null) {
            return;
        }
        slot.ready = false; // the restarted actor reports a fresh stream
        for (InFlight f : List.copyOf(inFlight.values())) {
            if (f.group.uses(slot)) {
                fail(f, describe(f) + " failed: the actor of " + c.device().name() + " crashed: " + c.cause(),
                        List.of(c.device().name()), c.cause());
            }
        }
        for (GroupState g : groups.values()) {
            if (g.uses(slot)) {
                recover(g, c.device().name() + " crashed");
            }
        }
    }

    private Behavior<Command> onSweep() {
        long now = System.nanoTime();
        for (GroupState g : groups.values()) {
            failParkedPastDeadline(g, now);
        }
        if (inFlight.isEmpty()) {
            return this;
        }
        for (InFlight f : List.copyOf(inFlight.values())) {
            if (now - f.deadlineNanos >= 0 && inFlight.containsKey(f.id)) {
                timedOut(f);
            }
        }
        return this;
    }

    /**
     * Calls parked while the group's devices get fresh streams (each device waits at most the timeout for its
     * old stream to drain) wait at most twice the collective timeout.
     */
    private void failParkedPastDeadline(GroupState g, long now) {
        Submit head;
        long bound = 2 * timeout.toNanos();
        while ((head = g.parked.peek()) != null && now - head.submittedNanos() - bound >= 0) {
            g.parked.poll();
            List<String> notReady = Arrays.stream(g.ranks).filter(r -> !r.ready).map(r -> r.device.name()).toList();
            head.reply().completeExceptionally(new CollectiveFailedException(head.call().collective().cliName()
                    + " on group " + g.id + " did not start within " + 2 * timeout.toMillis()
                    + " ms (twice cohort.collective.timeout): " + (notReady.isEmpty() ? "the group has no backend"
                    : "waiting for fresh streams on " + String.join(", ", notReady)), notReady, null));
        }
    }

    private void timedOut(InFlight f) {
        List<String> late = new ArrayList<>();
        List<String> lateRanks = new ArrayList<>();
        for (int r = 0; r < f.done.length; r++) {
            if (!f.done[r]) {
                late.add(f.group.ranks[r].device.name());
                lateRanks.add("rank " + r + " (" + f.group.ranks[r].device.name() + ")");
            }
        }
        fail(f, describe(f) + " timed out after " + timeout.toMillis() + " ms (cohort.collective.timeout): "
                + String.join(", ", lateRanks) + " did not complete", late, null);
        recover(f.group, describe(f) + " timed out");
    }

    private String describe(InFlight f) {
        CollectiveCall c = f.submit.call();
        return c.collective().cliName() + " #" + f.seq + " of group " + f.group.id + " (" + f.group.ranks.length
                + " ranks, " + (f.group.resolution == null ? "?" // dropped by a recovery in progress
                : f.group.resolution.choice().chosen().cliName()) + "/" + f.algorithm + ", " + c.count()
                + " x " + c.dtype().name().toLowerCase() + ")";
    }

    /** Size of a collective as nccl-tests counts it: the larger of one rank's send and recv buffers. */
    public static long messageBytes(CollectiveCall call, int ranks) {
        return Math.max(call.sendBytes(ranks), call.recvBytes(ranks));
    }

    private void finish(InFlight f) {
        inFlight.remove(f.id);
        f.group.inFlight--;
        closeIfIdle(f.group);
    }

    private void fail(InFlight f, String message, List<String> devicesAtFault, Throwable cause) {
        finish(f);
        CollectiveCall call = f.submit.call();
        long bytes = messageBytes(call, f.group.ranks.length);
        if (f.group.resolution != null) {
            env.metrics().recordFailed(call.collective(), f.group.resolution.choice().chosen(), f.algorithm, bytes);
        }
        commitEvent(f, bytes, false);
        getContext().getLog().warn(message);
        f.submit.reply().completeExceptionally(new CollectiveFailedException(message, devicesAtFault, cause));
    }

    /**
     * After a failure: the group's backend is dropped (its flags and the streams' pending waits belong to a
     * collective that will never finish) and every device of the group gets a fresh stream. Collectives in
     * flight on those devices are failed; new ones wait for the fresh streams.
     */
    private void recover(GroupState g, String reason) {
        if (g.resolution != null) {
            var old = g.resolution.backend();
            Reaper.closeQuietly("backend of group " + g.id, old::close);
            g.resolution = null;
        }
        List<DeviceSlot> reset = new ArrayList<>();
        for (DeviceSlot s : g.ranks) {
            reset.add(s);
            if (s.ready) {
                s.ready = false;
                s.actor.tell(new DeviceActor.Reset(reason, timeout));
            }
        }
        for (InFlight other : List.copyOf(inFlight.values())) {
            if (reset.stream().anyMatch(other.group::uses)) {
                fail(other, describe(other) + " aborted: " + reason, List.of(), null);
            }
        }
    }

    private void commitEvent(InFlight f, long bytes, boolean succeeded) {
        CollectiveEvent e = f.event;
        if (e == null) {
            return;
        }
        e.end();
        if (e.shouldCommit()) {
            e.collective = f.submit.call().collective().cliName();
            e.backend = f.group.resolution == null ? "?" : f.group.resolution.choice().chosen().cliName();
            e.algorithm = f.algorithm;
            e.bytes = bytes;
            e.ranks = f.group.ranks.length;
            e.group = f.group.id;
            e.seq = f.seq;
            e.succeeded = succeeded;
            e.commit();
        }
    }

    // ---- shutdown ----------------------------------------------------------------------------------------

    private Behavior<Command> onShutdown(Shutdown m) {
        for (InFlight f : List.copyOf(inFlight.values())) {
            fail(f, describe(f) + " aborted: cohort closed", List.of(), null);
        }
        for (GroupState g : groups.values()) {
            Submit s;
            while ((s = g.parked.poll()) != null) {
                s.reply().completeExceptionally(new CohortException("cohort closed before the collective started"));
            }
            if (g.pendingCreate != null) {
                g.pendingCreate.completeExceptionally(new CohortException("cohort closed while the group was created"));
            }
            if (g.pendingClose != null) {
                g.pendingClose.complete(null);
            }
            if (g.resolution != null) {
                g.resolution.backend().close();
            }
        }
        groups.clear();
        shutdownReply = m.reply();
        return Behaviors.stopped(); // children (device actors) stop first, then PostStop below
    }

    private Behavior<Command> onPostStop() {
        // after Shutdown nothing is pending; after an unexpected stop, no caller may wait forever
        CohortException stopped = new CohortException("the Cohort coordinator stopped");
        inFlight.values().forEach(f -> f.submit.reply().completeExceptionally(stopped));
        inFlight.clear();
        for (GroupState g : groups.values()) {
            g.parked.forEach(s -> s.reply().completeExceptionally(stopped));
            if (g.pendingCreate != null) {
                g.pendingCreate.completeExceptionally(stopped);
            }
            if (g.pendingClose != null) {
                g.pendingClose.complete(null);
            }
        }
        poller.close(); // the device actors (children) have stopped
        if (!Reaper.awaitIdle(5_000)) {
            getContext().getLog().warn("some device streams did not close within 5 s");
        }
        for (DeviceSlot s : devices.values()) {
            try {
                s.pool.close();
            } catch (RuntimeException e) {
                getContext().getLog().warn("closing the pool of {} failed: {}", s.device.name(), e.toString());
            }
        }
        devices.clear();
        if (shutdownReply != null) {
            shutdownReply.complete(null);
        }
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
