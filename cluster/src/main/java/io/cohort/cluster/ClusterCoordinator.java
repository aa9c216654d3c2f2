package io.cohort.cluster;

import io.cohort.cluster.ClusterProtocol.Reply;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.apache.pekko.cluster.typed.Leave;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * The cluster's coordinator, run as a Cluster Singleton on the members of role {@code coordinator}. Finds the
 * device nodes through the Receptionist ({@link CoordinatorMembers}), forms groups across them (admitting only
 * configured seed nodes), numbers each group's collectives and relays them to every node of the group
 * ({@link NodeRequests}), and answers the client once all nodes are in. A node that fails, does not answer within
 * the timeout, or becomes unreachable fails the request at once, naming the node; the group is then broken (its
 * leaders' transport is) and a new group must be created. Only control messages and buffer ids pass through here.
 */
public final class ClusterCoordinator extends AbstractBehavior<ClusterCoordinator.Command> {

    /** Everything the coordinator handles: client {@link ClusterProtocol.Request}s and its own messages. */
    public interface Command {
    }

    private record FromNode(NodeAgent.Reply reply) implements Command {
    }

    private record Described(NodeInfo info) implements Command {
    }

    private record Listed(Receptionist.Listing listing) implements Command {
    }

    private record Reachability(ClusterEvent.ReachabilityEvent event) implements Command {
    }

    private record MemberChanged(ClusterEvent.MemberEvent event) implements Command {
    }

    /** A request to nodes ran past its timeout ({@link NodeRequests}). */
    record TimedOut(long op) implements Command {
    }

    public static Behavior<Command> create(ClusterSettings settings) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ClusterCoordinator(ctx, timers, settings)));
    }

    private final ClusterSettings settings;
    private final Cluster cluster;
    private final ActorRef<NodeInfo> descriptions;
    private final CoordinatorMembers members;
    private final Map<Integer, CoordinatorGroup> groups = new HashMap<>();
    private final NodeRequests requests;
    private final String incarnation = UUID.randomUUID().toString().substring(0, 8);
    private int nextGroup = 1;
    private long nextTensor = 1;

    private ClusterCoordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, ClusterSettings settings) {
        super(ctx);
        this.settings = settings;
        this.cluster = Cluster.get(ctx.getSystem());
        this.members = new CoordinatorMembers(settings, cluster);
        this.requests = new NodeRequests(timers, settings, ctx.getLog(),
                ctx.messageAdapter(NodeAgent.Reply.class, FromNode::new), members, groups);
        this.descriptions = ctx.messageAdapter(NodeInfo.class, Described::new);
        ActorRef<Receptionist.Listing> listings = ctx.messageAdapter(Receptionist.Listing.class, Listed::new);
        for (String role : settings.nodeRoles()) {
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(NodeAgent.serviceKey(role), listings));
        }
        cluster.subscriptions().tell(Subscribe.create(
                ctx.messageAdapter(ClusterEvent.ReachabilityEvent.class, Reachability::new),
                ClusterEvent.ReachabilityEvent.class));
        cluster.subscriptions().tell(Subscribe.create(
                ctx.messageAdapter(ClusterEvent.MemberEvent.class, MemberChanged::new), ClusterEvent.MemberEvent.class));
        ctx.getLog().info("cluster coordinator {} started on {}", incarnation, cluster.selfMember().address());
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Listed.class, this::onListed)
                .onMessage(Described.class, this::onDescribed)
                .onMessage(Reachability.class, this::onReachability)
                .onMessage(MemberChanged.class, this::onMemberChanged)
                .onMessage(FromNode.class, m -> {
                    requests.onReply(m.reply());
                    return this;
                })
                .onMessage(TimedOut.class, m -> {
                    requests.onTimedOut(m.op());
                    return this;
                })
                .onMessage(ClusterProtocol.ListNodes.class, m -> {
                    m.replyTo().tell(new ClusterProtocol.Nodes(List.copyOf(members.nodes.values()),
                            List.copyOf(members.draining)));
                    return this;
                })
                .onMessage(ClusterProtocol.CreateGroup.class, this::onCreateGroup)
                .onMessage(ClusterProtocol.Allocate.class, this::onAllocate)
                .onMessage(ClusterProtocol.Fill.class, m -> withGroup(m.group(), m.replyTo(), g ->
                        requests.toAll(g, "fill of tensor " + m.tensor(), m.replyTo(), false,
                                (op, ag) -> new NodeAgent.Fill(op, g.id, m.tensor(), m.seed(), requests.replies()),
                                this::done)))
                .onMessage(ClusterProtocol.Release.class, m -> withGroup(m.group(), m.replyTo(), g ->
                        requests.toAll(g, "release of tensor " + m.tensor(), m.replyTo(), false,
                                (op, ag) -> new NodeAgent.Release(op, g.id, m.tensor(), requests.replies()),
                                this::done)))
                .onMessage(ClusterProtocol.Read.class, this::onRead)
                .onMessage(ClusterProtocol.Run.class, this::onRun)
                .onMessage(ClusterProtocol.CloseGroup.class, this::onCloseGroup)
                .onMessage(ClusterProtocol.Drain.class, this::onDrain)
                .onMessage(ClusterProtocol.Remove.class, this::onRemove)
                .build();
    }

    // ---- membership --------------------------------------------------------------------------------------

    private Behavior<Command> onListed(Listed m) {
        Set<ActorRef<NodeAgent.Command>> listed = new HashSet<>();
        for (String role : settings.nodeRoles()) {
            ServiceKey<NodeAgent.Command> key = NodeAgent.serviceKey(role);
            if (m.listing().isForKey(key)) {
                listed.addAll(m.listing().getServiceInstances(key));
            }
        }
        members.listed(listed).forEach(ref -> ref.tell(new NodeAgent.Describe(descriptions)));
        return this;
    }

    private Behavior<Command> onDescribed(Described m) {
        if (members.described(m.info())) {
            getContext().getLog().info("node {} up: {} ({})", m.info().address(), m.info().devices(),
                    m.info().backend());
        }
        return this;
    }

    private Behavior<Command> onReachability(Reachability m) {
        String node = members.addressOf(m.event().member().address());
        switch (m.event()) {
            case ClusterEvent.UnreachableMember u -> {
                members.unreachable.add(node);
                lost(node, "became unreachable");
            }
            case ClusterEvent.ReachableMember r -> members.unreachable.remove(node);
            default -> {
            }
        }
        return this;
    }

    private Behavior<Command> onMemberChanged(MemberChanged m) {
        if (m.event() instanceof ClusterEvent.MemberRemoved removed) {
            String node = members.addressOf(removed.member().address());
            lost(node, "left the cluster");
            members.removed(node);
        }
        return this;
    }

    /** Fails what waits on {@code node} and breaks the groups that use it. */
    private void lost(String node, String why) {
        requests.lost(node, why);
        for (CoordinatorGroup g : groups.values()) {
            if (g.uses(node)) {
                g.breakBecause("node " + node + " " + why, List.of(node));
            }
        }
    }

    // ---- groups ------------------------------------------------------------------------------------------

    private Behavior<Command> onCreateGroup(ClusterProtocol.CreateGroup m) {
        List<String> requested = m.nodes().isEmpty() ? members.admissible() : m.nodes();
        String problem = members.admissionProblem(requested);
        if (problem != null) {
            m.replyTo().tell(new ClusterProtocol.Failed(problem, List.of()));
            return this;
        }
        List<NodeInfo> infos = requested.stream().sorted().map(members.nodes::get).toList();
        List<NodeInfo> ordered = new ArrayList<>();
        List<ActorRef<NodeAgent.Command>> refs = new ArrayList<>();
        for (int i : ClusterTopology.leaderOrder(infos)) {
            ordered.add(infos.get(i));
            refs.add(members.agents.get(infos.get(i).address()));
        }
        CoordinatorGroup g = new CoordinatorGroup(nextGroup++, List.copyOf(ordered), List.copyOf(refs));
        groups.put(g.id, g);
        String name = settings.name() + "-" + incarnation + "-g" + g.id;
        requests.toAll(g, "creating group " + g.id, m.replyTo(), false,
                (op, ag) -> new NodeAgent.Prepare(op, g.id, requests.replies()),
                prepared -> {
                    List<String> endpoints = g.nodes.stream()
                            .map(n -> prepared.prepared.get(n.address()).endpoint()).toList();
                    List<String> sources = g.nodes.stream()
                            .map(n -> prepared.prepared.get(n.address()).source()).toList();
                    requests.toAll(g, "opening group " + g.id + " over " + String.join(", ", endpoints), m.replyTo(),
                            false, (op, ag) -> new NodeAgent.Open(op, g.id, name, g.agents.indexOf(ag),
                                    g.nodes.stream().map(NodeInfo::address).toList(), endpoints, sources,
                                    requests.replies()),
                            opened -> {
                                g.open = true;
                                getContext().getLog().info("group {}: {}", g.id, ClusterTopology.render(g.nodes));
                                m.replyTo().tell(new ClusterProtocol.GroupCreated(g.id, g.nodes));
                            });
                });
        return this;
    }

    private Behavior<Command> onAllocate(ClusterProtocol.Allocate m) {
        return withGroup(m.group(), m.replyTo(), g -> {
            long tensor = nextTensor++;
            requests.toAll(g, "allocating tensor " + tensor, m.replyTo(), false,
                    (op, ag) -> new NodeAgent.Allocate(op, g.id, tensor, m.dtype(), m.count(), requests.replies()),
                    p -> p.client.tell(new ClusterProtocol.TensorAllocated(tensor)));
        });
    }

    private Behavior<Command> onRead(ClusterProtocol.Read m) {
        return withGroup(m.group(), m.replyTo(), g -> {
            int perNode = g.nodes.getFirst().devices().size();
            if (m.rank() < 0 || m.rank() >= g.ranks()) {
                m.replyTo().tell(new ClusterProtocol.Failed("rank " + m.rank() + " is outside 0.." + (g.ranks() - 1),
                        List.of()));
                return;
            }
            int node = m.rank() / perNode;
            requests.send(g, List.of(g.agents.get(node)), "reading tensor " + m.tensor() + " of rank " + m.rank(),
                    m.replyTo(), false, (op, ag) -> new NodeAgent.Read(op, g.id, m.tensor(), m.rank() % perNode,
                            m.offset(), m.bytes(), requests.replies()),
                    p -> p.client.tell(new ClusterProtocol.Data(p.data)));
        });
    }

    private Behavior<Command> onRun(ClusterProtocol.Run m) {
        return withGroup(m.group(), m.replyTo(), g -> {
            if (m.collective().rooted() && (m.root() < 0 || m.root() >= g.ranks())) {
                m.replyTo().tell(new ClusterProtocol.Failed("root " + m.root() + " is outside ranks 0.."
                        + (g.ranks() - 1), List.of()));
                return;
            }
            long seq = ++g.seq;
            String what = m.collective().cliName() + " #" + seq + " of group " + g.id + " (" + g.nodes.size()
                    + " nodes, " + g.ranks() + " ranks, " + m.count() + " x " + m.dtype().name().toLowerCase() + ")";
            requests.toAll(g, what, m.replyTo(), true,
                    (op, ag) -> new NodeAgent.Run(op, g.id, seq, m.collective(), m.dtype(), m.op(), m.count(), m.root(),
                            m.send(), m.recv(), requests.replies()),
                    p -> p.client.tell(new ClusterProtocol.Done(seq, System.nanoTime() - p.started)));
        });
    }

    /**
     * Best effort: asks the nodes that are still there; a node blamed for breaking the group (it died) is not
     * waited for, so closing after a failure the data plane reported is prompt.
     */
    private Behavior<Command> onCloseGroup(ClusterProtocol.CloseGroup m) {
        CoordinatorGroup g = groups.remove(m.group());
        if (g == null) {
            m.replyTo().tell(new ClusterProtocol.Done(0, 0));
            return this;
        }
        List<ActorRef<NodeAgent.Command>> live = new ArrayList<>();
        for (int i = 0; i < g.nodes.size(); i++) {
            String node = g.nodes.get(i).address();
            if (members.live(node) && !g.blamed.contains(node)) {
                live.add(g.agents.get(i));
            }
        }
        NodeRequests.Pending p = requests.send(g, live, "closing group " + g.id, m.replyTo(), false,
                (op, ag) -> new NodeAgent.CloseGroup(op, g.id, requests.replies()),
                closed -> {
                    closed.client.tell(new ClusterProtocol.Done(0, System.nanoTime() - closed.started));
                    leaveDrained();
                });
        p.bestEffort = true;
        return this;
    }

    private Behavior<Command> onDrain(ClusterProtocol.Drain m) {
        if (!members.nodes.containsKey(m.node())) {
            m.replyTo().tell(new ClusterProtocol.Failed("node " + m.node() + " is not a device node of this cluster "
                    + "(nodes up: " + members.nodes.keySet() + ")", List.of()));
            return this;
        }
        members.draining.add(m.node());
        leaveDrained();
        m.replyTo().tell(new ClusterProtocol.Done(0, 0));
        return this;
    }

    /** Draining nodes that no group uses any more leave the cluster. */
    private void leaveDrained() {
        for (String n : List.copyOf(members.draining)) {
            if (groups.values().stream().noneMatch(g -> g.uses(n))) {
                members.memberAt(n).ifPresent(member -> {
                    getContext().getLog().info("node {} drained: leaving the cluster", n);
                    cluster.manager().tell(Leave.create(member.address()));
                });
            }
        }
    }

    private Behavior<Command> onRemove(ClusterProtocol.Remove m) {
        var member = members.memberAt(m.node());
        if (member.isEmpty()) {
            m.replyTo().tell(new ClusterProtocol.Failed("no member at " + m.node(), List.of()));
        } else {
            getContext().getLog().warn("downing node {} on request", m.node());
            lost(m.node(), "was removed");
            cluster.manager().tell(new Down(member.get().address()));
            m.replyTo().tell(new ClusterProtocol.Done(0, 0));
        }
        return this;
    }

    // ---- requests to nodes -------------------------------------------------------------------------------

    private Behavior<Command> withGroup(int id, ActorRef<Reply> client, Consumer<CoordinatorGroup> action) {
        CoordinatorGroup g = groups.get(id);
        if (g == null) {
            client.tell(new ClusterProtocol.Failed("group " + id + " does not exist (closed, or the coordinator "
                    + "restarted)", List.of()));
        } else if (g.broken != null) {
            client.tell(new ClusterProtocol.Failed("group " + id + " is broken since " + g.broken
                    + "; close it and create a new group", List.of()));
        } else {
            action.accept(g);
        }
        return this;
    }

    private void done(NodeRequests.Pending p) {
        p.client.tell(new ClusterProtocol.Done(0, System.nanoTime() - p.started));
    }
}
