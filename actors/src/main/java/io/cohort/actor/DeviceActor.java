package io.cohort.actor;

import io.cohort.device.Device;
import io.cohort.device.DeviceStream;
import java.time.Duration;
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
 * One per device lane, on its own pinned thread (dispatcher {@code cohort.device-dispatcher}): the control plane
 * of one stream of the device. It owns that stream: creates it, replaces it after a failure, closes it.
 * Collectives do not pass through it: callers enqueue on the stream it reported ({@link GroupSequencer}). A
 * device has one lane per rank a group puts on it (one, unless a spec such as {@code host:0*2} shares it).
 *
 * <p>After a failure the coordinator sends every device of the group a {@link Reset}: a fresh stream,
 * reported with {@link Ready} once the old one (possibly stuck waiting for a peer that failed) has drained,
 * closed off this thread, so that no stale work of the failed collective runs beside the next one. Anything
 * thrown here is reported as {@link Crashed} and the supervisor restarts the actor, which also reports a
 * fresh stream.
 */
public final class DeviceActor extends AbstractBehavior<DeviceActor.Command> {

    /** What a DeviceActor is told. */
    public sealed interface Command {
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

    /** What a DeviceActor tells the coordinator: about lane {@code lane} of {@code device}. */
    public sealed interface Report {
        Device device();

        int lane();
    }

    /** The actor (re)started with a fresh stream: groups on this lane use it from now on. */
    public record Ready(Device device, int lane, DeviceStream stream) implements Report {
    }

    /** The actor failed and is restarting. */
    public record Crashed(Device device, int lane, Throwable cause) implements Report {
    }

    /** The actor of {@code device}'s first lane, reporting to {@code coordinator}. */
    public static Behavior<Command> create(Device device, ActorRef<Report> coordinator) {
        return create(device, 0, coordinator);
    }

    /** The actor of lane {@code lane} of {@code device} (one stream of it), reporting to {@code coordinator}. */
    public static Behavior<Command> create(Device device, int lane, ActorRef<Report> coordinator) {
        return Behaviors.supervise(Behaviors.<Command>setup(ctx -> Behaviors.<Command>withTimers(
                        timers -> new DeviceActor(ctx, timers, device, lane, coordinator))))
                .onFailure(Exception.class, SupervisorStrategy.restart().withLoggingEnabled(false));
    }

    private final TimerScheduler<Command> timers;
    private final Device device;
    private final int lane;
    private final ActorRef<Report> coordinator;
    private DeviceStream stream;
    private int generation;
    private int drainedGeneration;

    private DeviceActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, Device device, int lane,
                        ActorRef<Report> coordinator) {
        super(ctx);
        this.timers = timers;
        this.device = device;
        this.lane = lane;
        this.coordinator = coordinator;
        try {
            this.stream = device.createStream();
        } catch (RuntimeException e) {
            coordinator.tell(new Crashed(device, lane, e));
            throw e;
        }
        coordinator.tell(new Ready(device, lane, stream));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Reset.class, reporting(this::onReset))
                .onMessage(Drained.class, reporting(this::onDrained))
                .onSignal(PreRestart.class, s -> release())
                .onSignal(PostStop.class, s -> release())
                .build();
    }

    private Behavior<Command> onReset(Reset r) {
        getContext().getLog().info("{}: new stream ({})", name(), r.reason());
        generation++;
        DeviceStream old = stream;
        stream = null; // not closed twice if creating the new one fails
        try {
            stream = device.createStream();
        } catch (RuntimeException e) {
            Reaper.closeQuietly(name() + " old stream", old::close);
            throw e;
        }
        int gen = generation;
        ActorRef<Command> self = getContext().getSelf();
        Reaper.closeQuietly(name() + " old stream", () -> {
            try {
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
            getContext().getLog().warn("{}: the old stream did not drain in time; using the new one anyway", name());
        }
        coordinator.tell(new Ready(device, lane, stream));
        return this;
    }

    @Override
    public String toString() {
        return "DeviceActor[" + name() + "]";
    }

    /** The device, and the lane where it has several. */
    private String name() {
        return lane == 0 ? device.name() : device.name() + " lane " + lane;
    }

    private Behavior<Command> release() {
        DeviceStream s = stream;
        if (s != null) {
            Reaper.closeQuietly(name() + " stream", s::close);
        }
        return this;
    }

    /** Reports an unexpected failure to the coordinator, then lets the supervisor restart the actor. */
    private <M extends Command> org.apache.pekko.japi.function.Function<M, Behavior<Command>> reporting(
            java.util.function.Function<M, Behavior<Command>> handler) {
        return m -> {
            try {
                return handler.apply(m);
            } catch (RuntimeException e) {
                coordinator.tell(new Crashed(device, lane, e));
                throw e;
            }
        };
    }
}
