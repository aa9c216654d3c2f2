package io.cohort.cluster;

import io.cohort.cluster.ClusterProtocol.Reply;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.pekko.actor.Address;
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
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.apache.pekko.cluster.typed.Leave;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * The cluster's coordinator, run as a Cluster Singleton on the members of role {@code coordinator}. Finds the
 * device nodes through the Receptionist, forms groups across them (admitting only configured seed nodes),
 * numbers each group's collectives and relays them to every node of the group, gathers the nodes' answers and
 * answers the client once all are in. A node that fails, does not answer within the timeout, or becomes
 * unreachable fails the request at once, naming the node; the group is then broken (its leaders' transport
 * is) and a new group must be created. Only control messages and buffer ids pass through here.
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

    private record TimedOut(long op) implements Command {
    }

    public static Behavior<Command> create(ClusterSettings settings) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ClusterCoordinator(ctx, timers, settings)));
    }

    /** A group as the coordinator keeps it: nodes in leader order. */
    private static final class Group {
        final int id;
        final List<NodeInfo> nodes;
        final List<ActorRef<NodeAgent.Command>> agents;
        long seq;
        String broken;
        boolean open;

        Group(int id, List<NodeInfo> nodes, List<ActorRef<NodeAgent.Command>> agents) {
            this.id = id;
            this.nodes = nodes;
            this.agents = agents;
        }

        boolean uses(String node) {
            return nodes.stream().anyMatch(n -> n.address().equals(node));
        }

        int ranks() {
            return nodes.size() * nodes.getFirst().devices().size();
        }
    }

    /** A request sent to some nodes, waiting for their answers. */
    private static final class Pending {
        final long op;
        final String what;
        final Group group;
        final ActorRef<Reply> client;
        final Set<String> waiting;
        final Consumer<Pending> onAllDone;
        final long started = System.nanoTime();
        final Map<String, NodeAgent.Prepared> prepared = new HashMap<>();
        boolean breaksGroupOnFailure;
        /** Closing: a node that fails, is lost or is late counts as done (there is nothing left to close there). */
        boolean bestEffort;
        byte[] data;

        Pending(long op, String what, Group group, ActorRef<Reply> client, Set<String> waiting,
                Consumer<Pending> onAllDone) {
            this.op = op;
            this.what = what;
            this.group = group;
            this.client = client;
            this.waiting = waiting;
            this.onAllDone = onAllDone;
        }
    }

    private final TimerScheduler<Command> timers;
    private final ClusterSettings settings;
    private final Cluster cluster;
    private final ActorRef<NodeAgent.Reply> replies;
    private final ActorRef<NodeInfo> descriptions;
    private final Map<String, ActorRef<NodeAgent.Command>> agents = new HashMap<>();
    private final Map<String, NodeInfo> nodes = new TreeMap<>();
    private final Set<String> unreachable = new HashSet<>();
    private final Set<String> draining = new LinkedHashSet<>();
    private final Map<Integer, Group> groups = new HashMap<>();
    private final Map<Long, Pending> pending = new HashMap<>();
    private final String incarnation = UUID.randomUUID().toString().substring(0, 8);
    private int nextGroup = 1;
    private long nextOp = 1;
    private long nextTensor = 1;

    private ClusterCoordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, ClusterSettings settings) {
        super(ctx);
        this.timers = timers;
        this.settings = settings;
        this.cluster = Cluster.get(ctx.getSystem());
        this.replies = ctx.messageAdapter(NodeAgent.Reply.class, FromNode::new);
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
                .onMessage(FromNode.class, m -> onNodeReply(m.reply()))
                .onMessage(TimedOut.class, this::onTimedOut)
                .onMessage(ClusterProtocol.ListNodes.class, m -> {
                    m.replyTo().tell(new ClusterProtocol.Nodes(List.copyOf(nodes.values()), List.copyOf(draining)));
                    return this;
                })
                .onMessage(ClusterProtocol.CreateGroup.class, this::onCreateGroup)
                .onMessage(ClusterProtocol.Allocate.class, this::onAllocate)
                .onMessage(ClusterProtocol.Fill.class, m -> withGroup(m.group(), m.replyTo(), g ->
                        toAll(g, "fill of tensor " + m.tensor(), m.replyTo(), false,
                                (op, ag) -> new NodeAgent.Fill(op, g.id, m.tensor(), m.seed(), replies), this::done)))
                .onMessage(ClusterProtocol.Release.class, m -> withGroup(m.group(), m.replyTo(), g ->
                        toAll(g, "release of tensor " + m.tensor(), m.replyTo(), false,
                                (op, ag) -> new NodeAgent.Release(op, g.id, m.tensor(), replies), this::done)))
                .onMessage(ClusterProtocol.Read.class, this::onRead)
                .onMessage(ClusterProtocol.Run.class, this::onRun)
                .onMessage(ClusterProtocol.CloseGroup.class, this::onCloseGroup)
                .onMessage(ClusterProtocol.Drain.class, this::onDrain)
                .onMessage(ClusterProtocol.Remove.class, this::onRemove)
                .build();
    }

    // ---- membership --------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private Behavior<Command> onListed(Listed m) {
        Set<ActorRef<NodeAgent.Command>> listed = new HashSet<>();
        for (String role : settings.nodeRoles()) {
            ServiceKey<NodeAgent.Command> key = NodeAgent.serviceKey(role);
            if (m.listing().isForKey(key)) {
                listed.addAll(m.listing().getServiceInstances(key));
            }
        }
        for (ActorRef<NodeAgent.Command> ref : listed) {
            String address = addressOf(ref.path().address());
            if (!ref.equals(agents.get(address))) {
                agents.put(address, ref);
                ref.tell(new NodeAgent.Describe(descriptions));
            }
        }
        return this;
    }

    private Behavior<Command> onDescribed(Described m) {
        if (agents.containsKey(m.info().address())) {
            NodeInfo before = nodes.put(m.info().address(), m.info()); // a restarted node may bring other devices
            if (!m.info().equals(before)) {
                getContext().getLog().info("node {} up: {} ({})", m.info().address(), m.info().devices(),
                        m.info().backend());
            }
        }
        return this;
    }

    private Behavior<Command> onReachability(Reachability m) {
        String node = addressOf(m.event().member().address());
        switch (m.event()) {
            case ClusterEvent.UnreachableMember u -> {
                unreachable.add(node);
                lost(node, "became unreachable");
            }
            case ClusterEvent.ReachableMember r -> unreachable.remove(node);
            default -> {
            }
        }
        return this;
    }

    private Behavior<Command> onMemberChanged(MemberChanged m) {
        if (m.event() instanceof ClusterEvent.MemberRemoved removed) {
            String node = addressOf(removed.member().address());
            lost(node, "left the cluster");
            nodes.remove(node);
            agents.remove(node);
            unreachable.remove(node);
            draining.remove(node);
        }
        return this;
    }

    /** Fails what waits on {@code node} and breaks the groups that use it. */
    private void lost(String node, String why) {
        for (Pending p : List.copyOf(pending.values())) {
            if (p.waiting.contains(node)) {
                if (p.bestEffort) {
                    answered(p, node);
                } else {
                    fail(p, p.what + " failed: node " + node + " " + why, List.of(node));
                }
            }
        }
        for (Group g : groups.values()) {
            if (g.uses(node) && g.broken == null) {
                g.broken = "node " + node + " " + why;
            }
        }
    }

    // ---- groups ------------------------------------------------------------------------------------------

    private Behavior<Command> onCreateGroup(ClusterProtocol.CreateGroup m) {
        List<String> seeds = settings.seedHostPorts();
        List<String> requested = m.nodes().isEmpty()
                ? nodes.keySet().stream().filter(n -> !draining.contains(n) && !unreachable.contains(n)
                        && seeds.contains(n)).toList()
                : m.nodes();
        String problem = admissionProblem(requested);
        if (problem != null) {
            m.replyTo().tell(new ClusterProtocol.Failed(problem, List.of()));
            return this;
        }
        List<String> sorted = requested.stream().sorted().toList();
        List<NodeInfo> infos = sorted.stream().map(nodes::get).toList();
        int[] order = ClusterTopology.leaderOrder(infos);
        List<NodeInfo> ordered = new ArrayList<>();
        List<ActorRef<NodeAgent.Command>> refs = new ArrayList<>();
        for (int i : order) {
            ordered.add(infos.get(i));
            refs.add(agents.get(infos.get(i).address()));
        }
        Group g = new Group(nextGroup++, List.copyOf(ordered), List.copyOf(refs));
        groups.put(g.id, g);
        String name = settings.name() + "-" + incarnation + "-g" + g.id;
        toAll(g, "creating group " + g.id, m.replyTo(), false,
                (op, ag) -> new NodeAgent.Prepare(op, g.id, replies),
                prepared -> {
                    List<String> endpoints = g.nodes.stream()
                            .map(n -> prepared.prepared.get(n.address()).endpoint()).toList();
                    List<String> sources = g.nodes.stream()
                            .map(n -> prepared.prepared.get(n.address()).source()).toList();
                    toAll(g, "opening group " + g.id + " over " + String.join(", ", endpoints), m.replyTo(), false,
                            (op, ag) -> new NodeAgent.Open(op, g.id, name, g.agents.indexOf(ag),
                                    g.nodes.stream().map(NodeInfo::address).toList(), endpoints, sources, replies),
                            opened -> {
                                g.open = true;
                                getContext().getLog().info("group {}: {}", g.id, ClusterTopology.render(g.nodes));
                                m.replyTo().tell(new ClusterProtocol.GroupCreated(g.id, g.nodes));
                            });
                });
        return this;
    }

    /** Why these nodes may not form a group, or null. */
    private String admissionProblem(List<String> requested) {
        if (requested.isEmpty()) {
            return "no device node is up (roles " + settings.nodeRoles() + ")";
        }
        List<String> seeds = settings.seedHostPorts();
        Integer devices = null;
        for (String n : new LinkedHashSet<>(requested)) {
            NodeInfo info = nodes.get(n);
            if (info == null) {
                return "node " + n + " is not a device node of this cluster (nodes up: " + nodes.keySet() + ")";
            }
            if (!seeds.contains(n)) {
                return "node " + n + " is not one of the configured seed nodes " + seeds
                        + " (pekko.cluster.seed-nodes): it may not join a group";
            }
            if (draining.contains(n)) {
                return "node " + n + " is draining";
            }
            if (unreachable.contains(n)) {
                return "node " + n + " is unreachable";
            }
            if (devices != null && devices != info.devices().size()) {
                return "nodes of a group need the same number of devices: " + requested.stream()
                        .map(x -> x + " has " + nodes.get(x).devices().size()).toList();
            }
            devices = info.devices().size();
        }
        if (requested.size() != new HashSet<>(requested).size()) {
            return "a node appears twice in " + requested;
        }
        return null;
    }

    private Behavior<Command> onAllocate(ClusterProtocol.Allocate m) {
        return withGroup(m.group(), m.replyTo(), g -> {
            long tensor = nextTensor++;
            toAll(g, "allocating tensor " + tensor, m.replyTo(), false,
                    (op, ag) -> new NodeAgent.Allocate(op, g.id, tensor, m.dtype(), m.count(), replies),
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
            send(g, List.of(g.agents.get(node)), "reading tensor " + m.tensor() + " of rank " + m.rank(), m.replyTo(),
                    false, (op, ag) -> new NodeAgent.Read(op, g.id, m.tensor(), m.rank() % perNode, m.offset(),
                            m.bytes(), replies),
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
            toAll(g, what, m.replyTo(), true,
                    (op, ag) -> new NodeAgent.Run(op, g.id, seq, m.collective(), m.dtype(), m.op(), m.count(), m.root(),
                            m.send(), m.recv(), replies),
                    p -> p.client.tell(new ClusterProtocol.Done(seq, System.nanoTime() - p.started)));
        });
    }

    private Behavior<Command> onCloseGroup(ClusterProtocol.CloseGroup m) {
        Group g = groups.remove(m.group());
        if (g == null) {
            m.replyTo().tell(new ClusterProtocol.Done(0, 0));
            return this;
        }
        List<ActorRef<NodeAgent.Command>> live = new ArrayList<>();
        for (int i = 0; i < g.nodes.size(); i++) {
            if (nodes.containsKey(g.nodes.get(i).address()) && !unreachable.contains(g.nodes.get(i).address())) {
                live.add(g.agents.get(i));
            }
        }
        Pending p = send(g, live, "closing group " + g.id, m.replyTo(), false,
                (op, ag) -> new NodeAgent.CloseGroup(op, g.id, replies),
                closed -> {
                    closed.client.tell(new ClusterProtocol.Done(0, System.nanoTime() - closed.started));
                    leaveDrained();
                });
        p.bestEffort = true;
        return this;
    }

    private Behavior<Command> onDrain(ClusterProtocol.Drain m) {
        if (!nodes.containsKey(m.node())) {
            m.replyTo().tell(new ClusterProtocol.Failed("node " + m.node() + " is not a device node of this cluster "
                    + "(nodes up: " + nodes.keySet() + ")", List.of()));
            return this;
        }
        draining.add(m.node());
        leaveDrained();
        m.replyTo().tell(new ClusterProtocol.Done(0, 0));
        return this;
    }

    /** Draining nodes that no group uses any more leave the cluster. */
    private void leaveDrained() {
        for (String n : List.copyOf(draining)) {
            if (groups.values().stream().noneMatch(g -> g.uses(n))) {
                memberAt(n).ifPresent(member -> {
                    getContext().getLog().info("node {} drained: leaving the cluster", n);
                    cluster.manager().tell(Leave.create(member.address()));
                });
            }
        }
    }

    private Behavior<Command> onRemove(ClusterProtocol.Remove m) {
        var member = memberAt(m.node());
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

    private java.util.Optional<Member> memberAt(String hostPort) {
        for (Member member : cluster.state().getMembers()) {
            if (addressOf(member.address()).equals(hostPort)) {
                return java.util.Optional.of(member);
            }
        }
        return java.util.Optional.empty();
    }

    // ---- requests to nodes -------------------------------------------------------------------------------

    private Behavior<Command> withGroup(int id, ActorRef<Reply> client, Consumer<Group> action) {
        Group g = groups.get(id);
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

    private interface RequestFactory {
        NodeAgent.Command create(long op, ActorRef<NodeAgent.Command> agent);
    }

    private void toAll(Group g, String what, ActorRef<Reply> client, boolean breaksGroup, RequestFactory factory,
                       Consumer<Pending> onAllDone) {
        send(g, g.agents, what, client, breaksGroup, factory, onAllDone);
    }

    private Pending send(Group g, List<ActorRef<NodeAgent.Command>> to, String what, ActorRef<Reply> client,
                      boolean breaksGroup, RequestFactory factory, Consumer<Pending> onAllDone) {
        long op = nextOp++;
        Set<String> waiting = new HashSet<>();
        for (ActorRef<NodeAgent.Command> a : to) {
            waiting.add(addressOf(a.path().address()));
        }
        Pending p = new Pending(op, what, g, client, waiting, onAllDone);
        p.breaksGroupOnFailure = breaksGroup;
        if (waiting.isEmpty()) {
            onAllDone.accept(p);
            return p;
        }
        pending.put(op, p);
        Duration timeout = breaksGroup ? settings.collectiveTimeout() : settings.groupTimeout();
        timers.startSingleTimer(op, new TimedOut(op), timeout);
        for (ActorRef<NodeAgent.Command> a : to) {
            a.tell(factory.create(op, a));
        }
        return p;
    }

    private void done(Pending p) {
        p.client.tell(new ClusterProtocol.Done(0, System.nanoTime() - p.started));
    }

    private Behavior<Command> onNodeReply(NodeAgent.Reply r) {
        Pending p = pending.get(r.op());
        if (p == null) {
            return this; // failed or timed out already
        }
        switch (r) {
            case NodeAgent.Failed f -> {
                if (p.bestEffort) {
                    getContext().getLog().warn("{} on node {}: {}", p.what, f.node(), f.message());
                } else {
                    fail(p, p.what + " failed on node " + f.node() + ": " + f.message(),
                            f.blamed().isEmpty() ? List.of(f.node()) : f.blamed());
                    return this;
                }
            }
            case NodeAgent.Prepared prepared -> p.prepared.put(prepared.node(), prepared);
            case NodeAgent.Data d -> p.data = d.bytes();
            case NodeAgent.Done d -> {
            }
        }
        answered(p, r.node());
        return this;
    }

    private void answered(Pending p, String node) {
        p.waiting.remove(node);
        if (p.waiting.isEmpty()) {
            pending.remove(p.op);
            timers.cancel(p.op);
            p.onAllDone.accept(p);
        }
    }

    private Behavior<Command> onTimedOut(TimedOut t) {
        Pending p = pending.get(t.op());
        if (p != null && p.bestEffort) {
            getContext().getLog().warn("{}: no answer from {}", p.what, p.waiting);
            List.copyOf(p.waiting).forEach(n -> answered(p, n));
        } else if (p != null) {
            Duration timeout = p.breaksGroupOnFailure ? settings.collectiveTimeout() : settings.groupTimeout();
            fail(p, p.what + " timed out after " + timeout.toMillis() + " ms: node(s) " + p.waiting.stream().sorted()
                    .toList() + " did not answer", p.waiting.stream().sorted().toList());
        }
        return this;
    }

    private void fail(Pending p, String message, List<String> at) {
        pending.remove(p.op);
        timers.cancel(p.op);
        getContext().getLog().warn(message);
        if (p.group != null && !p.group.open && groups.remove(p.group.id) != null) {
            // creation failed: the nodes drop what they set up (answers go nowhere: no op 0 is pending)
            p.group.agents.forEach(a -> a.tell(new NodeAgent.CloseGroup(0, p.group.id, replies)));
        } else if (p.group != null && p.breaksGroupOnFailure && p.group.broken == null) {
            p.group.broken = message;
        }
        p.client.tell(new ClusterProtocol.Failed(message, at));
    }

    /** "host:port" of a member address (this member's own address for local refs). */
    private String addressOf(Address a) {
        Address full = a.hasGlobalScope() ? a : cluster.selfMember().address();
        return full.getHost().orElse("?") + ":" + full.getPort().orElse(0);
    }

}
