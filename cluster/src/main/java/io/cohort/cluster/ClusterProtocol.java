package io.cohort.cluster;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What clients (the {@link ClusterCohort} API, the coordinator CLI) ask the cluster coordinator, and what it
 * answers. Clients may run in any member, so every message is CBOR-serializable and replies go to actor refs.
 */
public final class ClusterProtocol {
    private ClusterProtocol() {
    }

    /** Requests to the coordinator (the singleton's protocol, with its internal messages). */
    public sealed interface Request extends ClusterCoordinator.Command, CborSerializable {
    }

    /** The device nodes that are up, sorted by address. */
    public record ListNodes(ActorRef<Reply> replyTo) implements Request {
    }

    /**
     * A group of {@code nodes} (addresses "host:port"; empty: every node that is up and not draining); the
     * global ranks follow the leaders' ring order, each node contributing all its devices.
     */
    public record CreateGroup(List<String> nodes, ActorRef<Reply> replyTo) implements Request {
        public CreateGroup {
            nodes = List.copyOf(nodes);
        }
    }

    public record Allocate(int group, DType dtype, long count, ActorRef<Reply> replyTo) implements Request {
    }

    public record Fill(int group, long tensor, long seed, ActorRef<Reply> replyTo) implements Request {
    }

    /** {@code bytes} bytes from {@code offset} of global rank {@code rank}'s tensor (diagnostics and tests). */
    public record Read(int group, long tensor, int rank, long offset, int bytes, ActorRef<Reply> replyTo)
            implements Request {
    }

    public record Release(int group, long tensor, ActorRef<Reply> replyTo) implements Request {
    }

    /** A collective over the whole group; {@code root} is a global rank; tensors by id. */
    public record Run(int group, Collective collective, DType dtype, ReduceOp op, long count, int root, long send,
                      long recv, ActorRef<Reply> replyTo) implements Request {
    }

    public record CloseGroup(int group, ActorRef<Reply> replyTo) implements Request {
    }

    /** Take a node out of new groups; it leaves the cluster once no group uses it. */
    public record Drain(String node, ActorRef<Reply> replyTo) implements Request {
    }

    /** Down a node now: groups that use it fail. */
    public record Remove(String node, ActorRef<Reply> replyTo) implements Request {
    }

    /** Answers. */
    public sealed interface Reply extends CborSerializable {
    }

    public record Nodes(List<NodeInfo> nodes, List<String> draining) implements Reply {
        public Nodes {
            nodes = List.copyOf(nodes);
            draining = List.copyOf(draining);
        }
    }

    /** A group: its nodes in leader order, the local backend of each, and how it runs a collective. */
    public record GroupCreated(int group, List<NodeInfo> nodes) implements Reply {
        public GroupCreated {
            nodes = List.copyOf(nodes);
        }
    }

    public record TensorAllocated(long tensor) implements Reply {
    }

    /** A request done; {@code seq} the collective's number in its group (0 for others). */
    public record Done(long seq, long nanos) implements Reply {
    }

    public record Data(byte[] bytes) implements Reply {
    }

    public record Failed(String message, List<String> nodes) implements Reply {
        public Failed {
            nodes = List.copyOf(nodes);
        }
    }
}
