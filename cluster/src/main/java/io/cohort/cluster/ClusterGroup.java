package io.cohort.cluster;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * A group spanning nodes: every device of each of its nodes, global rank {@code n * ranksPerNode() + l} for
 * local rank l of the n-th node (leader order). Collectives take {@link RemoteTensor}s (NCCL conventions,
 * count per rank) and complete when every node has finished its part, or fail with a {@link ClusterException}
 * naming the nodes at fault. After a failure the group is broken: close it and create another.
 */
public final class ClusterGroup implements AutoCloseable {

    /** Bytes per piece of {@link #read}: well under Pekko's default maximum frame size (256 KiB). */
    static final int READ_PIECE = 64 * 1024;

    private final ClusterCohort cluster;
    private final int id;
    private final List<NodeInfo> nodes;
    private final Duration timeout;
    private final Duration collectiveTimeout;
    private boolean closed;

    ClusterGroup(ClusterCohort cluster, int id, List<NodeInfo> nodes) {
        this.cluster = cluster;
        this.id = id;
        this.nodes = List.copyOf(nodes);
        this.timeout = cluster.settings().groupTimeout();
        this.collectiveTimeout = cluster.settings().collectiveTimeout().plusSeconds(2);
    }

    public int id() {
        return id;
    }

    /** Nodes in leader order. */
    public List<NodeInfo> nodes() {
        return nodes;
    }

    public int ranksPerNode() {
        return nodes.getFirst().devices().size();
    }

    public int size() {
        return nodes.size() * ranksPerNode();
    }

    /** The two-level topology: nodes, and the devices (ranks) of each. */
    public String topology() {
        return ClusterTopology.render(nodes);
    }

    /** How {@code collective} runs on this group, level by level. */
    public String describe(Collective collective) {
        return ClusterTopology.describe(collective, nodes);
    }

    /** A tensor of {@code count} elements on every rank. */
    public RemoteTensor allocate(DType dtype, long count) {
        var r = (ClusterProtocol.TensorAllocated) cluster.ask(to -> new ClusterProtocol.Allocate(id, dtype, count, to),
                timeout);
        return new RemoteTensor(id, r.tensor(), dtype, count);
    }

    /** Fills every rank's {@code t} with {@link Pattern} {@code seed} (on the nodes). */
    public void fill(RemoteTensor t, long seed) {
        cluster.ask(to -> new ClusterProtocol.Fill(id, t.id(), seed, to), timeout);
    }

    /**
     * The bytes of rank {@code rank}'s {@code t}, fetched through the coordinator in pieces of
     * {@value #READ_PIECE} bytes (each fits one remoting frame): for tests and diagnostics, not for bulk data.
     */
    public byte[] read(RemoteTensor t, int rank) {
        long total = t.count() * t.dtype().bytes();
        if (total > Integer.MAX_VALUE - 8) {
            throw new ClusterException("tensor " + t.id() + " is too large to read back (" + total + " bytes)");
        }
        byte[] out = new byte[(int) total];
        for (int offset = 0; offset < total; offset += READ_PIECE) {
            int off = offset;
            int n = (int) Math.min(READ_PIECE, total - offset);
            byte[] piece = ((ClusterProtocol.Data) cluster.ask(to -> new ClusterProtocol.Read(id, t.id(), rank, off, n,
                    to), timeout)).bytes();
            System.arraycopy(piece, 0, out, off, n);
        }
        return out;
    }

    /** Rank {@code rank}'s {@code t} as floats. */
    public float[] readFloats(RemoteTensor t, int rank) {
        ByteBuffer b = ByteBuffer.wrap(read(t, rank)).order(ByteOrder.nativeOrder());
        float[] out = new float[(int) t.count()];
        java.lang.foreign.MemorySegment seg = java.lang.foreign.MemorySegment.ofBuffer(b);
        for (int i = 0; i < out.length; i++) {
            out[i] = t.dtype().get(seg, i);
        }
        return out;
    }

    public void release(RemoteTensor t) {
        cluster.ask(to -> new ClusterProtocol.Release(id, t.id(), to), timeout);
    }

    public CompletionStage<ClusterProtocol.Reply> allReduce(RemoteTensor send, RemoteTensor recv, ReduceOp op) {
        return run(Collective.ALL_REDUCE, op, recv.count(), 0, send, recv);
    }

    public CompletionStage<ClusterProtocol.Reply> broadcast(RemoteTensor send, RemoteTensor recv, int root) {
        return run(Collective.BROADCAST, ReduceOp.SUM, recv.count(), root, send, recv);
    }

    public CompletionStage<ClusterProtocol.Reply> reduce(RemoteTensor send, RemoteTensor recv, ReduceOp op, int root) {
        return run(Collective.REDUCE, op, send.count(), root, send, recv);
    }

    /** {@code send} holds size() blocks of {@code recv.count()}. */
    public CompletionStage<ClusterProtocol.Reply> reduceScatter(RemoteTensor send, RemoteTensor recv, ReduceOp op) {
        return run(Collective.REDUCE_SCATTER, op, recv.count(), 0, send, recv);
    }

    /** {@code recv} holds size() blocks of {@code send.count()}. */
    public CompletionStage<ClusterProtocol.Reply> allGather(RemoteTensor send, RemoteTensor recv) {
        return run(Collective.ALL_GATHER, ReduceOp.SUM, send.count(), 0, send, recv);
    }

    /**
     * Runs a collective of {@code count} elements per rank; completes with {@link ClusterProtocol.Done} (the
     * collective's number and the time the coordinator saw it take) or fails with a {@link ClusterException}.
     */
    public CompletionStage<ClusterProtocol.Reply> run(Collective c, ReduceOp op, long count, int root, RemoteTensor send,
                                                      RemoteTensor recv) {
        int n = size();
        if (send.dtype() != recv.dtype()) {
            throw new ClusterException(c.cliName() + ": send is " + send.dtype() + ", recv " + recv.dtype());
        }
        if (send.count() < c.sendCount(count, n) || recv.count() < c.recvCount(count, n)) {
            throw new ClusterException(c.cliName() + " of " + count + " elements per rank on " + n + " ranks needs "
                    + c.sendCount(count, n) + " send and " + c.recvCount(count, n) + " recv elements, the tensors have "
                    + send.count() + " and " + recv.count());
        }
        return cluster.askAsync(to -> new ClusterProtocol.Run(id, c, send.dtype(), op, count, root, send.id(), recv.id(),
                to), collectiveTimeout);
    }

    /** Waits for a collective (bounded by the collective timeout); failures throw {@link ClusterException}. */
    public ClusterProtocol.Done await(CompletionStage<ClusterProtocol.Reply> stage) {
        return (ClusterProtocol.Done) ClusterCohort.await(stage, collectiveTimeout.plusSeconds(1));
    }

    /** Closes the group on its nodes (frees its tensors, ends its transport). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            cluster.ask(to -> new ClusterProtocol.CloseGroup(id, to), timeout);
        }
    }
}
