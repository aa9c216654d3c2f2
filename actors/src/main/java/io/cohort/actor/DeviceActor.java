package io.cohort.actor;

import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceStream;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * One per device, on its own pinned thread (dispatcher {@code cohort.device-dispatcher}): a CUDA device's
 * context is bound to the thread that uses it. Owns the device's stream; enqueues its rank's part of each
 * collective and records an event behind it; its {@link CompletionWatcher} (polled by the Cohort's
 * {@link CompletionPoller} thread) reports to the coordinator when it completes, so this actor never blocks. Buffers arrive as references, never bytes.
 *
 * <p>Failures: an exception while enqueuing is reported as {@link StepFailed}; the coordinator then sends
 * every device of the group a {@link Reset}: a fresh stream, reported with {@link Ready} once the old one
 * (possibly stuck waiting for a peer that failed) has drained, closed off this thread, so that no stale work
 * of the failed collective runs beside the next one. Anything else thrown here is reported
 * as {@link Crashed} and the supervisor restarts the actor, which also reports a fresh stream.
 */
public final class DeviceActor extends AbstractBehavior<DeviceActor.Command> {

    /** What a DeviceActor is told. */
    public sealed interface Command {
    }

    /** Enqueue rank {@code rank}'s part of collective {@code seq} of {@code backend}. */
    public record Enqueue(long collectiveId, CollectiveBackend backend, int rank, long seq, CollectiveCall call,
                          DeviceBuffer send, DeviceBuffer recv) implements Command {
    }

    /**
     * Drop the stream and everything pending on it; start over with a fresh stream, reported (Ready) once the
     * old stream has drained (its stale work might otherwise still write buffers) or after {@code drainBound}.
     */
    public record Reset(String reason, Duration drainBound) implements Command {
    }

    /** The stream replaced by reset {@code generation} has closed, or waiting for it is given up. */
    private record Drained(int generation, boolean closed) implements Command {
    }

    /** What a DeviceActor tells the coordinator. */
    public sealed interface Report {
        Device device();
    }

    /** The actor (re)started with a fresh stream: groups on this device use it from now on. */
    public record Ready(Device device, DeviceStream stream) implements Report {
    }

    /** Rank {@code rank}'s part of collective {@code collectiveId} finished on the device. */
    public record StepDone(Device device, long collectiveId, int rank, long enqueuedNanos) implements Report {
    }

    /** Rank {@code rank}'s part of collective {@code collectiveId} could not be enqueued or failed on the device. */
    public record StepFailed(Device device, long collectiveId, int rank, Throwable cause) implements Report {
    }

    /** The actor failed outside a collective and is restarting. */
    public record Crashed(Device device, Throwable cause) implements Report {
    }

    /** The actor of {@code device}, reporting to {@code coordinator}; {@code poller} watches its completions. */
    public static Behavior<Command> create(Device device, ActorRef<Report> coordinator, CompletionPoller poller) {
        return Behaviors.supervise(Behaviors.<Command>setup(ctx -> Behaviors.<Command>withTimers(
                        timers -> new DeviceActor(ctx, timers, device, coordinator, poller))))
                .onFailure(Exception.class, SupervisorStrategy.restart().withLoggingEnabled(false));
    }

    private final TimerScheduler<Command> timers;
    private final Device device;
    private final ActorRef<Report> coordinator;
    private final CompletionWatcher watcher;
    /** Events ready for reuse: taken here, given back by the watcher thread. */
    private final ConcurrentLinkedQueue<DeviceEvent> freeEvents = new ConcurrentLinkedQueue<>();
    private DeviceStream stream;
    private int generation;
    private int drainedGeneration;

    private DeviceActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, Device device,
                        ActorRef<Report> coordinator, CompletionPoller poller) {
        super(ctx);
        this.timers = timers;
        this.device = device;
        this.coordinator = coordinator;
        this.stream = device.createStream();
        // completions go from the poller's thread straight to the coordinator: no hop through this actor
        this.watcher = new CompletionWatcher(poller, (p, failure) -> {
            freeEvents.add(p.event());
            coordinator.tell(failure == null
                    ? new StepDone(device, p.collectiveId(), p.rank(), p.enqueuedNanos())
                    : new StepFailed(device, p.collectiveId(), p.rank(), failure));
        });
        coordinator.tell(new Ready(device, stream));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Enqueue.class, reporting(this::onEnqueue))
                .onMessage(Reset.class, reporting(this::onReset))
                .onMessage(Drained.class, reporting(this::onDrained))
                .onSignal(PreRestart.class, s -> release())
                .onSignal(PostStop.class, s -> release())
                .build();
    }

    private Behavior<Command> onEnqueue(Enqueue e) {
        try {
            e.backend().enqueue(e.rank(), e.seq(), e.call(), e.send(), e.recv());
            DeviceEvent reused = freeEvents.poll();
            DeviceEvent event = reused != null ? reused : device.createEvent();
            stream.record(event);
            watcher.watch(new CompletionWatcher.Pending(e.collectiveId(), e.rank(), System.nanoTime(), event, stream,
                    generation));
        } catch (RuntimeException ex) {
            coordinator.tell(new StepFailed(device, e.collectiveId(), e.rank(), ex));
        }
        return this;
    }

    private Behavior<Command> onReset(Reset r) {
        getContext().getLog().info("{}: new stream ({})", device.name(), r.reason());
        generation++;
        DeviceStream old = stream;
        List<DeviceEvent> oldEvents = new ArrayList<>(freeEvents);
        freeEvents.clear();
        watcher.abandon(generation, oldEvents::add);
        stream = device.createStream();
        int gen = generation;
        ActorRef<Command> self = getContext().getSelf();
        Reaper.closeQuietly(device.name() + " old stream", () -> {
            try {
                oldEvents.forEach(DeviceEvent::close);
                old.close();
            } finally {
                self.tell(new Drained(gen, true));
            }
        });
        timers.startSingleTimer("drain", new Drained(gen, false), r.drainBound());
        return this;
    }

    private Behavior<Command> onDrained(Drained d) {
        if (d.generation() != generation || drainedGeneration == generation) {
            return this;
        }
        drainedGeneration = generation;
        timers.cancel("drain");
        if (!d.closed()) {
            getContext().getLog().warn("{}: the old stream did not drain in time; using the new one anyway", device.name());
        }
        coordinator.tell(new Ready(device, stream));
        return this;
    }

    @Override
    public String toString() {
        return "DeviceActor[" + device.name() + "]";
    }

    private Behavior<Command> release() {
        watcher.close();
        List<DeviceEvent> events = new ArrayList<>(freeEvents);
        freeEvents.clear();
        watcher.abandon(generation + 1, events::add);
        DeviceStream s = stream;
        Reaper.closeQuietly(device.name() + " stream", () -> {
            events.forEach(DeviceEvent::close);
            s.close();
        });
        return this;
    }

    /** Reports an unexpected failure to the coordinator, then lets the supervisor restart the actor. */
    private <M extends Command> org.apache.pekko.japi.function.Function<M, Behavior<Command>> reporting(
            java.util.function.Function<M, Behavior<Command>> handler) {
        return m -> {
            try {
                return handler.apply(m);
            } catch (RuntimeException e) {
                coordinator.tell(new Crashed(device, e));
                throw e;
            }
        };
    }
}
