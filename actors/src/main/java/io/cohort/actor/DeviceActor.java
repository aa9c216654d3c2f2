package io.cohort.actor;

import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * One per device, on its own pinned thread (dispatcher {@code cohort.device-dispatcher}): a CUDA device's
 * context is bound to the thread that uses it. Owns the device's stream; enqueues its rank's part of each
 * collective, records an event behind it, and reports to the coordinator when the event completes (watched
 * by a {@link CompletionWatcher}, never blocking this actor). Buffers arrive as references, never bytes.
 *
 * <p>Failures: an exception while enqueuing is reported as {@link StepFailed}; the coordinator then sends
 * every device of the group a {@link Reset}: a fresh stream (the old one, possibly stuck waiting for a peer
 * that failed, is closed off this thread) reported with {@link Ready}. Anything else thrown here is reported
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

    /** Drop the stream and everything pending on it; start over with a fresh stream. */
    public record Reset(String reason) implements Command {
    }

    /** From the watcher thread: the event behind a collective completed (failure null) or failed. */
    private record Watched(CompletionWatcher.Pending pending, Throwable failure) implements Command {
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

    public static Behavior<Command> create(Device device, ActorRef<Report> coordinator) {
        return Behaviors.supervise(Behaviors.<Command>setup(ctx -> new DeviceActor(ctx, device, coordinator)))
                .onFailure(Exception.class, SupervisorStrategy.restart().withLoggingEnabled(false));
    }

    private final Device device;
    private final ActorRef<Report> coordinator;
    private final CompletionWatcher watcher;
    private final ArrayDeque<DeviceEvent> freeEvents = new ArrayDeque<>();
    private DeviceStream stream;
    private int generation;

    private DeviceActor(ActorContext<Command> ctx, Device device, ActorRef<Report> coordinator) {
        super(ctx);
        this.device = device;
        this.coordinator = coordinator;
        this.stream = device.createStream();
        ActorRef<Command> self = ctx.getSelf();
        this.watcher = new CompletionWatcher(device.name(), (p, failure) -> self.tell(new Watched(p, failure)));
        coordinator.tell(new Ready(device, stream));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Enqueue.class, reporting(this::onEnqueue))
                .onMessage(Watched.class, reporting(this::onWatched))
                .onMessage(Reset.class, reporting(this::onReset))
                .onSignal(PreRestart.class, s -> release())
                .onSignal(PostStop.class, s -> release())
                .build();
    }

    private Behavior<Command> onEnqueue(Enqueue e) {
        try {
            e.backend().enqueue(e.rank(), e.seq(), e.call(), e.send(), e.recv());
            DeviceEvent event = freeEvents.isEmpty() ? device.createEvent() : freeEvents.pop();
            stream.record(event);
            watcher.watch(new CompletionWatcher.Pending(e.collectiveId(), e.rank(), System.nanoTime(), event, stream,
                    generation));
        } catch (RuntimeException ex) {
            coordinator.tell(new StepFailed(device, e.collectiveId(), e.rank(), ex));
        }
        return this;
    }

    private Behavior<Command> onWatched(Watched w) {
        CompletionWatcher.Pending p = w.pending();
        if (p.generation() != generation) {
            return this; // recorded on a stream that was reset since
        }
        freeEvents.push(p.event());
        coordinator.tell(w.failure() == null
                ? new StepDone(device, p.collectiveId(), p.rank(), p.enqueuedNanos())
                : new StepFailed(device, p.collectiveId(), p.rank(), w.failure()));
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
        Reaper.closeQuietly(device.name() + " old stream", () -> {
            oldEvents.forEach(DeviceEvent::close);
            old.close();
        });
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
