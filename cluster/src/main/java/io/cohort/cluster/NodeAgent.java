package io.cohort.cluster;

import io.cohort.api.CohortGroup;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.transport.TransportConfig;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * One per device node: registered with the Receptionist under {@link #serviceKey(String) cohort-node-&lt;role&gt;},
 * it carries out the coordinator's requests for this node's share of each group. Its local devices form one
 * local {@link CohortGroup} (their DeviceActors run in this node); each cluster group gets a {@link NodeGroup}
 * with its own worker thread, so a collective waiting on other nodes never blocks this actor or another group.
 * Requests name buffers by id; the buffers never leave the node.
 */
public final class NodeAgent extends AbstractBehavior<NodeAgent.Command> {

    /** Requests from the coordinator. Each carries an operation id that the reply repeats. */
    public sealed interface Command extends CborSerializable {
    }

    public record Describe(ActorRef<NodeInfo> replyTo) implements Command {
    }

    /** Reserve a transport endpoint for group {@code group}; answered by {@link Prepared}. */
    public record Prepare(long op, int group, ActorRef<Reply> replyTo) implements Command {
    }

    /**
     * Join group {@code group} as leader number {@code nodeRank} of {@code nodes.size()} (node addresses,
     * transport endpoints and the sources they send from, in leader order); global rank of local rank l is
     * {@code nodeRank * ranksPerNode + l}. A leader hears only the source announced here for its left neighbour.
     */
    public record Open(long op, int group, String name, int nodeRank, List<String> nodes, List<String> endpoints,
                       List<String> sources, ActorRef<Reply> replyTo) implements Command {
        public Open {
            nodes = List.copyOf(nodes);
            endpoints = List.copyOf(endpoints);
            sources = List.copyOf(sources);
        }
    }

    /** Allocate tensor {@code tensor} ({@code count} elements) on every local device of the group. */
    public record Allocate(long op, int group, long tensor, DType dtype, long count, ActorRef<Reply> replyTo)
            implements Command {
    }

    /** Fill tensor {@code tensor} of every local rank with {@link Pattern} {@code seed}. */
    public record Fill(long op, int group, long tensor, long seed, ActorRef<Reply> replyTo) implements Command {
    }

    /**
     * Send back {@code bytes} bytes from {@code offset} of local rank {@code localRank}'s tensor (diagnostics and
     * tests; pieces small enough for one remoting frame).
     */
    public record Read(long op, int group, long tensor, int localRank, long offset, int bytes, ActorRef<Reply> replyTo)
            implements Command {
    }

    public record Release(long op, int group, long tensor, ActorRef<Reply> replyTo) implements Command {
    }

    /** Run this node's part of collective {@code seq}: tensors by id, {@code root} a global rank. */
    public record Run(long op, int group, long seq, Collective collective, DType dtype, ReduceOp reduceOp, long count,
                      int root, long send, long recv, ActorRef<Reply> replyTo) implements Command {
    }

    public record CloseGroup(long op, int group, ActorRef<Reply> replyTo) implements Command {
    }

    /** Replies to the coordinator; {@code node} is the replying node's address. */
    public sealed interface Reply extends CborSerializable {
        long op();

        String node();
    }

    /** The UDP endpoint this node's leader receives on for the group, and the source it sends from. */
    public record Prepared(long op, String node, String endpoint, String source) implements Reply {
    }

    public record Done(long op, String node, long nanos) implements Reply {
    }

    public record Data(long op, String node, byte[] bytes) implements Reply {
    }

    /** {@code blamed}: the nodes the failure is attributed to (e.g. a peer that died), empty if none. */
    public record Failed(long op, String node, String message, List<String> blamed) implements Reply {
        public Failed {
            blamed = List.copyOf(blamed);
        }
    }

    /** A member left or became unreachable: groups its coordinator created are dropped. */
    private record MemberGone(ClusterEvent.MemberEvent event) implements Command {
    }

    public static ServiceKey<Command> serviceKey(String role) {
        return ServiceKey.create(Command.class, "cohort-node-" + role);
    }

    public static Behavior<Command> create(NodeInfo info, CohortGroup local, ClusterSettings settings,
                                           TransportConfig transport) {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(serviceKey(info.role()), ctx.getSelf()));
            Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(
                    ctx.messageAdapter(ClusterEvent.MemberEvent.class, MemberGone::new), ClusterEvent.MemberEvent.class));
            return new NodeAgent(ctx, info, local, settings, transport);
        });
    }

    private final NodeInfo info;
    private final CohortGroup local;
    private final ClusterSettings settings;
    private final TransportConfig transport;
    private final Map<Integer, NodeGroup> groups = new HashMap<>();
    /** Which member's coordinator created each group ("host:port"). */
    private final Map<Integer, String> creators = new HashMap<>();

    private NodeAgent(ActorContext<Command> ctx, NodeInfo info, CohortGroup local, ClusterSettings settings,
                      TransportConfig transport) {
        super(ctx);
        this.info = info;
        this.local = local;
        this.settings = settings;
        this.transport = transport;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Describe.class, m -> {
                    m.replyTo().tell(info);
                    return this;
                })
                .onMessage(Prepare.class, this::onPrepare)
                .onMessage(Open.class, m -> withGroup(m.op(), m.group(), m.replyTo(), g -> g.open(m)))
                .onMessage(Allocate.class, m -> withGroup(m.op(), m.group(), m.replyTo(), g -> g.allocate(m)))
                .onMessage(Fill.class, m -> withGroup(m.op(), m.group(), m.replyTo(), g -> g.fill(m)))
                .onMessage(Read.class, m -> withGroup(m.op(), m.group(), m.replyTo(), g -> g.read(m)))
                .onMessage(Release.class, m -> withGroup(m.op(), m.group(), m.replyTo(), g -> g.release(m)))
                .onMessage(Run.class, m -> withGroup(m.op(), m.group(), m.replyTo(), g -> g.run(m)))
                .onMessage(CloseGroup.class, this::onClose)
                .onMessage(MemberGone.class, this::onMemberGone)
                .onSignal(PostStop.class, s -> {
                    groups.values().forEach(NodeGroup::close);
                    groups.clear();
                    return this;
                })
                .build();
    }

    private Behavior<Command> onPrepare(Prepare m) {
        NodeGroup old = groups.remove(m.group());
        if (old != null) {
            old.close(); // a coordinator that restarted reuses ids: the old group is gone with it
        }
        try {
            int[] taken = groups.values().stream().flatMapToInt(g -> java.util.stream.IntStream.of(g.ports())).toArray();
            TransportPorts.Reservation port = TransportPorts.reserve(settings.transportHost(),
                    settings.transportPort(), settings.transportPortSpan(), taken);
            TransportPorts.Reservation source;
            try {
                source = TransportPorts.reserve(settings.transportHost(), settings.transportPort(),
                        settings.transportPortSpan(), java.util.stream.IntStream.concat(java.util.Arrays.stream(taken),
                                java.util.stream.IntStream.of(port.port())).toArray());
            } catch (RuntimeException e) {
                port.release();
                throw e;
            }
            NodeGroup g = new NodeGroup(m.group(), info, local, transport, settings, port, source);
            groups.put(m.group(), g);
            creators.put(m.group(), hostPort(m.replyTo().path().address()));
            m.replyTo().tell(new Prepared(m.op(), info.address(), settings.transportHost() + ":" + port.port(),
                    settings.transportHost() + ":" + source.port()));
        } catch (RuntimeException e) {
            m.replyTo().tell(new Failed(m.op(), info.address(), "no transport port: " + e.getMessage(), List.of()));
        }
        return this;
    }

    /** The coordinator of a group is gone (it left or was removed): nobody will close the group, so drop it. */
    private Behavior<Command> onMemberGone(MemberGone m) {
        if (m.event() instanceof ClusterEvent.MemberRemoved removed) {
            String gone = hostPort(removed.member().address());
            for (Integer id : List.copyOf(creators.keySet())) {
                if (creators.get(id).equals(gone)) {
                    getContext().getLog().info("group {}: its coordinator at {} left, closing it", id, gone);
                    creators.remove(id);
                    NodeGroup g = groups.remove(id);
                    if (g != null) {
                        g.close();
                    }
                }
            }
        }
        return this;
    }

    private static String hostPort(Address a) {
        return a.getHost().orElse("local") + ":" + a.getPort().orElse(0);
    }

    private Behavior<Command> onClose(CloseGroup m) {
        creators.remove(m.group());
        NodeGroup g = groups.remove(m.group());
        if (g == null) {
            m.replyTo().tell(new Done(m.op(), info.address(), 0));
        } else {
            g.closeAsync(m);
        }
        return this;
    }

    private Behavior<Command> withGroup(long op, int group, ActorRef<Reply> replyTo,
                                        java.util.function.Consumer<NodeGroup> action) {
        NodeGroup g = groups.get(group);
        if (g == null) {
            replyTo.tell(new Failed(op, info.address(), "node " + info.address() + " has no group " + group, List.of()));
        } else {
            action.accept(g);
        }
        return this;
    }
}
