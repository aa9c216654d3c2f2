package io.cohort.cluster;

import com.typesafe.config.Config;
import java.time.Duration;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;

/** Starting a member's actor system and waiting until the cluster has taken it in. */
final class ClusterMembership {
    private ClusterMembership() {
    }

    static ActorSystem<Void> start(ClusterSettings settings, Config config) {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), settings.name(), config);
        // the receptionist now, while the cluster runs: started lazily after a failed join it logs a stack trace
        system.receptionist();
        return system;
    }

    /**
     * Waits until this member is Up. Pekko refuses members of another cluster name and, after
     * {@code cohort.cluster.join-timeout} without a seed's answer, shuts the member down: both end here as a
     * {@link ClusterException} that says so.
     */
    static void awaitUp(ActorSystem<?> system, ClusterSettings settings) {
        Cluster cluster = Cluster.get(system);
        long deadline = System.nanoTime() + settings.joinTimeout().plus(Duration.ofSeconds(2)).toNanos();
        while (cluster.selfMember().status() != MemberStatus.up()) {
            if (system.whenTerminated().isCompleted() || System.nanoTime() > deadline) {
                system.terminate();
                throw new ClusterException("member " + address(system) + " of cluster '" + settings.name()
                        + "' was not admitted through the seed nodes " + settings.seedNodes() + " within "
                        + settings.joinTimeout().toSeconds() + " s (cohort.cluster.join-timeout): no seed node of that "
                        + "cluster name answered (" + likelyCauses(system) + ")");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                system.terminate();
                throw new ClusterException("interrupted while joining cluster '" + settings.name() + "'");
            }
        }
    }

    private static String likelyCauses(ActorSystem<?> system) {
        return ClusterTls.from(system.settings().config()).enabled()
                ? "wrong cluster name, no seed node running, a seed that does not trust this member's certificate, "
                        + "or seeds without TLS"
                : "wrong cluster name, or no seed node running; a cluster on TLS refuses a member without it "
                        + "(cohort.cluster.tls.enabled)";
    }

    private static boolean leavingAgreed(Cluster cluster) {
        MemberStatus s = cluster.selfMember().status();
        return s == MemberStatus.exiting() || s == MemberStatus.removed() || s == MemberStatus.down();
    }

    /** "host:port" of this member. */
    static String address(ActorSystem<?> system) {
        Address a = Cluster.get(system).selfMember().address();
        return a.getHost().orElse("?") + ":" + a.getPort().orElse(0);
    }

    /** How long a leaving member waits for the others to agree before it downs itself. */
    private static final Duration AGREE_TO_LEAVE = Duration.ofSeconds(3);

    /**
     * Leaves the cluster (others see it removed rather than unreachable) and stops the actor system. Leaving
     * needs the members to agree, which a member that died and is not downed yet blocks (Pekko would wait 10 s
     * in cluster-exiting): if this member is not Exiting within {@link #AGREE_TO_LEAVE} (at once when a member
     * is unreachable), it downs itself, and stops at once; the others remove it once the dead member is downed.
     */
    static void leave(ActorSystem<?> system, Duration timeout) {
        leave(system, timeout, false);
    }

    /**
     * As {@link #leave(ActorSystem, Duration)}; {@code peerFailed}: a member is known to have died (the data plane
     * said so before the failure detector may have), so the agreement cannot come and this member downs itself at
     * once.
     */
    static void leave(ActorSystem<?> system, Duration timeout, boolean peerFailed) {
        if (system.whenTerminated().isCompleted()) {
            return;
        }
        Cluster cluster = Cluster.get(system);
        Address self = cluster.selfMember().address();
        cluster.manager().tell(org.apache.pekko.cluster.typed.Leave.create(self));
        // an unreachable member (one that died, not downed yet) blocks the agreement for good: do not wait for it
        boolean blocked = peerFailed || !cluster.state().getUnreachable().isEmpty();
        long deadline = System.nanoTime() + (blocked ? 0 : AGREE_TO_LEAVE.toNanos());
        while (!system.whenTerminated().isCompleted() && System.nanoTime() < deadline && !leavingAgreed(cluster)
                && cluster.state().getUnreachable().isEmpty()) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!system.whenTerminated().isCompleted() && !leavingAgreed(cluster)) {
            cluster.manager().tell(new org.apache.pekko.cluster.typed.Down(self));
        }
        system.terminate(); // coordinated shutdown: leaves the cluster first (pekko.coordinated-shutdown)
        try {
            system.getWhenTerminated().toCompletableFuture().get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // best effort: the cluster downs a member that vanished
        }
    }

    /**
     * Completes when {@code system} has terminated, or at the latest its actor-system-terminate phase's timeout
     * + 2 s after its coordinated shutdown reached that phase. Termination can outlast the phase's timeout: in CI,
     * after a peer node was killed, a drained node's system never finished terminating, and the process waited
     * for it for good. Call it before the shutdown starts (at start-up): that is when the bound is registered.
     */
    static java.util.concurrent.CompletionStage<Void> stopped(ActorSystem<?> system) {
        java.util.concurrent.CompletableFuture<Void> stopped = new java.util.concurrent.CompletableFuture<>();
        system.getWhenTerminated().whenComplete((done, failure) -> stopped.complete(null));
        long boundMs = system.settings().config()
                .getDuration("pekko.coordinated-shutdown.phases.actor-system-terminate.timeout").toMillis() + 2_000;
        org.apache.pekko.actor.CoordinatedShutdown.get(system).addTask(
                org.apache.pekko.actor.CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), "cohort-stop-bound",
                () -> {
                    stopped.completeOnTimeout(null, boundMs, java.util.concurrent.TimeUnit.MILLISECONDS);
                    return java.util.concurrent.CompletableFuture.completedFuture(org.apache.pekko.Done.done());
                });
        return stopped;
    }
}
