package io.cohort.cluster;

import com.typesafe.config.Config;
import io.cohort.cluster.ClusterProtocol.Reply;
import io.cohort.core.CohortException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;

/**
 * A member of role {@code coordinator}: hosts the {@link ClusterCoordinator} singleton (when the cluster picks
 * this member for it) and talks to it through the singleton proxy. Entry point of the cluster API and of
 * {@code cohort coordinator}.
 *
 * <pre>{@code
 * try (ClusterCohort cluster = ClusterCohort.start(ClusterSettings.load(new File("conf/cluster/coordinator.conf")))) {
 *     cluster.awaitNodes(3, Duration.ofSeconds(30));
 *     try (ClusterGroup g = cluster.group(List.of())) {
 *         RemoteTensor t = g.allocate(DType.F32, 1 << 20);
 *         g.allReduce(t, t, ReduceOp.SUM).toCompletableFuture().join();
 *     }
 * }
 * }</pre>
 */
public final class ClusterCohort implements AutoCloseable {

    private final ActorSystem<Void> system;
    private final ClusterSettings settings;
    private final ActorRef<ClusterCoordinator.Command> coordinator;
    private final java.util.concurrent.CompletionStage<Void> stopped;
    /** Set once a leave has been waited for: a second close must not wait again (CI: 3 s + 10 s after a kill). */
    private final java.util.concurrent.atomic.AtomicBoolean left = new java.util.concurrent.atomic.AtomicBoolean();

    private ClusterCohort(ActorSystem<Void> system, ClusterSettings settings) {
        this.system = system;
        this.settings = settings;
        this.stopped = ClusterMembership.stopped(system);
        this.coordinator = ClusterSingleton.get(system).init(
                SingletonActor.of(ClusterCoordinator.create(settings), "cohort-coordinator")
                        .withSettings(ClusterSingletonSettings.create(system).withRole(ClusterSettings.COORDINATOR_ROLE)));
    }

    /** Joins the cluster as a coordinator member ({@code cohort.cluster.role = coordinator}). */
    public static ClusterCohort start(Config config) {
        ClusterSettings settings = ClusterSettings.from(config);
        if (!settings.coordinator()) {
            throw new CohortException("a coordinator member needs cohort.cluster.role = "
                    + ClusterSettings.COORDINATOR_ROLE + ", the config says '" + settings.role() + "'");
        }
        ActorSystem<Void> system = ClusterMembership.start(settings, config);
        ClusterMembership.awaitUp(system, settings);
        return new ClusterCohort(system, settings);
    }

    public ClusterSettings settings() {
        return settings;
    }

    public ActorSystem<Void> system() {
        return system;
    }

    /** Completes when this member's actor system stops, bounded as {@link ClusterNode#whenStopped} is. */
    public java.util.concurrent.CompletionStage<Void> whenStopped() {
        return stopped;
    }

    /** The device nodes that are up, and those draining. */
    public ClusterProtocol.Nodes members() {
        return (ClusterProtocol.Nodes) ask(ClusterProtocol.ListNodes::new, settings.groupTimeout());
    }

    /** Waits until at least {@code count} device nodes are up; returns them. */
    public List<NodeInfo> awaitNodes(int count, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            // each ask within what is left of the wait (the singleton may still be starting)
            Duration left = Duration.ofNanos(Math.max(500_000_000L, deadline - System.nanoTime()));
            Duration ask = left.compareTo(settings.groupTimeout()) < 0 ? left : settings.groupTimeout();
            List<NodeInfo> nodes = ((ClusterProtocol.Nodes) ask(ClusterProtocol.ListNodes::new, ask)).nodes();
            if (nodes.size() >= count) {
                return nodes;
            }
            if (System.nanoTime() > deadline) {
                throw new ClusterException(count + " device nodes expected within " + timeout.toSeconds() + " s, "
                        + nodes.size() + " up: " + nodes.stream().map(NodeInfo::address).toList());
            }
            sleep(100);
        }
    }

    /** A group of the given nodes ("host:port"; empty: every node up and not draining). */
    public ClusterGroup group(List<String> nodes) {
        Reply r = ask(to -> new ClusterProtocol.CreateGroup(nodes, to), settings.groupTimeout().multipliedBy(2));
        ClusterProtocol.GroupCreated created = (ClusterProtocol.GroupCreated) r;
        return new ClusterGroup(this, created.group(), created.nodes());
    }

    /** Takes {@code node} out of new groups; it leaves the cluster once no group uses it. */
    public void drain(String node) {
        ask(to -> new ClusterProtocol.Drain(node, to), settings.groupTimeout());
    }

    /** Downs {@code node} now. */
    public void remove(String node) {
        ask(to -> new ClusterProtocol.Remove(node, to), settings.groupTimeout());
    }

    /** Asks the coordinator and waits; a {@link ClusterProtocol.Failed} answer throws. */
    Reply ask(Function<ActorRef<Reply>, ClusterProtocol.Request> request, Duration timeout) {
        return await(askAsync(request, timeout), timeout.plusSeconds(1));
    }

    CompletionStage<Reply> askAsync(Function<ActorRef<Reply>, ClusterProtocol.Request> request, Duration timeout) {
        CompletableFuture<Reply> result = new CompletableFuture<>();
        AskPattern.<ClusterCoordinator.Command, Reply>ask(coordinator, request::apply, timeout, system.scheduler())
                .whenComplete((reply, error) -> {
                    if (error != null) {
                        result.completeExceptionally(new ClusterException("no answer from the cluster coordinator "
                                + "within " + timeout.toMillis() + " ms (" + error.getMessage() + ")"));
                    } else if (reply instanceof ClusterProtocol.Failed f) {
                        result.completeExceptionally(new ClusterException(f.message(), f.nodes()));
                    } else {
                        result.complete(reply);
                    }
                });
        return result;
    }

    static Reply await(CompletionStage<Reply> stage, Duration timeout) {
        try {
            return stage.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClusterException("interrupted while waiting for the cluster coordinator");
        } catch (TimeoutException e) {
            throw new ClusterException("no answer from the cluster coordinator within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ClusterException c) {
                throw c;
            }
            throw new ClusterException(String.valueOf(e.getCause()));
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClusterException("interrupted");
        }
    }

    /**
     * Leaves the cluster (the singleton moves to another coordinator member, if any); with a member dead but not
     * downed yet, within a few seconds rather than after Pekko's 10 s cluster-exiting timeout
     * ({@link ClusterMembership#leave}). The nodes close its groups when it is removed either way.
     */
    @Override
    public void close() {
        if (left.compareAndSet(false, true)) {
            ClusterMembership.leave(system, Duration.ofSeconds(10));
        }
    }

    /**
     * Leaves after a collective failed because a node died: the members cannot agree on the leave while the dead
     * node is not downed, so this member downs itself at once and stops within a few seconds (a CLI that has
     * reported the failure exits instead of waiting for the split brain resolver). Idempotent with {@link #close}.
     */
    public void closeAfterNodeFailure() {
        if (left.compareAndSet(false, true)) {
            ClusterMembership.leave(system, Duration.ofSeconds(3), true);
        }
    }
}
