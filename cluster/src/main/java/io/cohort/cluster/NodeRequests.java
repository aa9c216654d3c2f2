package io.cohort.cluster;

import io.cohort.cluster.ClusterProtocol.Reply;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.slf4j.Logger;

/**
 * The coordinator's requests to nodes in flight: each waits for an answer from every node it was sent to, under
 * a timeout; the first failure, a lost node or the timeout fails it at once, naming the nodes, and a collective
 * that fails breaks its group. Closing requests are best effort: a node that fails or is lost counts as done.
 * Runs inside the coordinator actor (single-threaded).
 */
final class NodeRequests {

    /** A request sent to some nodes, waiting for their answers. */
    static final class Pending {
        final long op;
        final String what;
        final CoordinatorGroup group;
        final ActorRef<Reply> client;
        final Set<String> waiting;
        final Consumer<Pending> onAllDone;
        final long started = System.nanoTime();
        final Map<String, NodeAgent.Prepared> prepared = new HashMap<>();
        final boolean breaksGroupOnFailure;
        /** Closing: a node that fails, is lost or is late counts as done (there is nothing left to close there). */
        boolean bestEffort;
        byte[] data;

        Pending(long op, String what, CoordinatorGroup group, ActorRef<Reply> client, Set<String> waiting,
                boolean breaksGroupOnFailure, Consumer<Pending> onAllDone) {
            this.op = op;
            this.what = what;
            this.group = group;
            this.client = client;
            this.waiting = waiting;
            this.breaksGroupOnFailure = breaksGroupOnFailure;
            this.onAllDone = onAllDone;
        }
    }

    /** The request for one agent, given the operation id its answer will carry. */
    interface RequestFactory {
        NodeAgent.Command create(long op, ActorRef<NodeAgent.Command> agent);
    }

    private final TimerScheduler<ClusterCoordinator.Command> timers;
    private final ClusterSettings settings;
    private final Logger log;
    private final ActorRef<NodeAgent.Reply> replies;
    private final CoordinatorMembers members;
    private final Map<Integer, CoordinatorGroup> groups;
    private final Map<Long, Pending> pending = new HashMap<>();
    private long nextOp = 1;

    NodeRequests(TimerScheduler<ClusterCoordinator.Command> timers, ClusterSettings settings, Logger log,
                 ActorRef<NodeAgent.Reply> replies, CoordinatorMembers members, Map<Integer, CoordinatorGroup> groups) {
        this.timers = timers;
        this.settings = settings;
        this.log = log;
        this.replies = replies;
        this.members = members;
        this.groups = groups;
    }

    ActorRef<NodeAgent.Reply> replies() {
        return replies;
    }

    Pending toAll(CoordinatorGroup g, String what, ActorRef<Reply> client, boolean breaksGroup, RequestFactory factory,
                  Consumer<Pending> onAllDone) {
        return send(g, g.agents, what, client, breaksGroup, factory, onAllDone);
    }

    /** Sends a request to each of {@code to}; {@code onAllDone} runs once every one has answered. */
    Pending send(CoordinatorGroup g, List<ActorRef<NodeAgent.Command>> to, String what, ActorRef<Reply> client,
                 boolean breaksGroup, RequestFactory factory, Consumer<Pending> onAllDone) {
        long op = nextOp++;
        Set<String> waiting = new HashSet<>();
        for (ActorRef<NodeAgent.Command> a : to) {
            waiting.add(members.addressOf(a.path().address()));
        }
        Pending p = new Pending(op, what, g, client, waiting, breaksGroup, onAllDone);
        if (waiting.isEmpty()) {
            onAllDone.accept(p);
            return p;
        }
        pending.put(op, p);
        timers.startSingleTimer(op, new ClusterCoordinator.TimedOut(op), timeout(p));
        for (ActorRef<NodeAgent.Command> a : to) {
            a.tell(factory.create(op, a));
        }
        return p;
    }

    void onReply(NodeAgent.Reply r) {
        Pending p = pending.get(r.op());
        if (p == null) {
            return; // failed or timed out already
        }
        switch (r) {
            case NodeAgent.Failed f -> {
                if (p.bestEffort) {
                    log.warn("{} on node {}: {}", p.what, f.node(), f.message());
                } else {
                    fail(p, p.what + " failed on node " + f.node() + ": " + f.message(),
                            f.blamed().isEmpty() ? List.of(f.node()) : f.blamed());
                    return;
                }
            }
            case NodeAgent.Prepared prepared -> p.prepared.put(prepared.node(), prepared);
            case NodeAgent.Data d -> p.data = d.bytes();
            case NodeAgent.Done d -> {
            }
        }
        answered(p, r.node());
    }

    void onTimedOut(long op) {
        Pending p = pending.get(op);
        if (p != null && p.bestEffort) {
            log.warn("{}: no answer from {}", p.what, p.waiting);
            List.copyOf(p.waiting).forEach(n -> answered(p, n));
        } else if (p != null) {
            List<String> late = p.waiting.stream().sorted().toList();
            fail(p, p.what + " timed out after " + timeout(p).toMillis() + " ms: node(s) " + late + " did not answer",
                    late);
        }
    }

    /** {@code node} is gone or unreachable: what waits on it fails (closing: counts it as done). */
    void lost(String node, String why) {
        for (Pending p : List.copyOf(pending.values())) {
            if (p.waiting.contains(node)) {
                if (p.bestEffort) {
                    answered(p, node);
                } else {
                    fail(p, p.what + " failed: node " + node + " " + why, List.of(node));
                }
            }
        }
    }

    private void answered(Pending p, String node) {
        p.waiting.remove(node);
        if (p.waiting.isEmpty()) {
            pending.remove(p.op);
            timers.cancel(p.op);
            p.onAllDone.accept(p);
        }
    }

    private void fail(Pending p, String message, List<String> at) {
        pending.remove(p.op);
        timers.cancel(p.op);
        log.warn(message);
        if (p.group != null && !p.group.open && groups.remove(p.group.id) != null) {
            // creation failed: the nodes drop what they set up (answers go nowhere: no op 0 is pending)
            p.group.agents.forEach(a -> a.tell(new NodeAgent.CloseGroup(0, p.group.id, replies)));
        } else if (p.group != null && p.breaksGroupOnFailure) {
            p.group.breakBecause(message, at);
        }
        p.client.tell(new ClusterProtocol.Failed(message, at));
    }

    private Duration timeout(Pending p) {
        return p.breaksGroupOnFailure ? settings.collectiveTimeout() : settings.groupTimeout();
    }
}
