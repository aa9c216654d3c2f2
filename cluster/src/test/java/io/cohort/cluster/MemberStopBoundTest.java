package io.cohort.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

/** A member whose actor system never finishes terminating still counts as stopped, within the phase's bound. */
class MemberStopBoundTest {

    @Test
    void aTerminationThatHangsPastItsPhaseStillStopsTheMemberWithinTheBound() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.setup(ctx -> {
            // an actor whose stop blocks (as a stream close waiting on a dead peer can): termination hangs on it
            ctx.spawn(Behaviors.receive(Object.class).onSignal(PostStop.class, s -> {
                release.await(30, TimeUnit.SECONDS);
                return Behaviors.same();
            }).build(), "slow-to-stop");
            return Behaviors.empty();
        }), "stop-bound", ConfigFactory.parseString(
                "pekko.coordinated-shutdown.phases.actor-system-terminate.timeout = 1s\n"
                        + "pekko.coordinated-shutdown.exit-jvm = off").withFallback(ConfigFactory.load()));
        try {
            CompletableFuture<Void> stopped = ClusterMembership.stopped(system).toCompletableFuture();
            long t0 = System.nanoTime();
            CoordinatedShutdown.get(system).runAll(CoordinatedShutdown.unknownReason());
            stopped.get(20, TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertTrue(seconds < 10, "stopped after " + seconds + " s (bound: 1 s + 2 s)");
            assertFalse(system.whenTerminated().isCompleted(), "the system itself is still terminating");
        } finally {
            release.countDown();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
