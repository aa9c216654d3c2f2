package io.cohort.cluster;

import io.cohort.api.CohortGroup;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.transport.ProcessGroup;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One node's part of a collective over N nodes x L local ranks (global rank of local rank l on node n:
 * {@code n * L + l}), in three levels: inside the node through its local group (the node's own backend),
 * between node leaders (local rank 0) through the Aeron {@link ProcessGroup}, then inside the node again.
 *
 * <pre>
 * all-reduce      local reduce to 0 | leaders all-reduce          | local broadcast from 0
 * broadcast       root node: local broadcast | leaders broadcast  | other nodes: local broadcast from 0
 * reduce          local reduce to 0 | leaders reduce to root node | root node: copy to the root's recv
 * all-gather      gather to the leader (copies) | leaders all-gather of L blocks | local broadcast from 0
 * reduce-scatter  local reduce to 0 | leaders reduce-scatter of L blocks | scatter to local ranks (copies)
 * </pre>
 * AVG averages at each level (L, then N), which is the global average because every node has L ranks.
 * Runs on the group's worker thread; blocks until this node's part is done or fails.
 */
final class HierarchicalCollective {

    private final CohortGroup local;
    private final ProcessGroup leaders;
    private final NodeStaging staging;
    private final Duration timeout;
    private final int ranksPerNode;
    private final int node;
    private final int nodes;

    HierarchicalCollective(CohortGroup local, ProcessGroup leaders, NodeStaging staging, Duration timeout) {
        this.local = local;
        this.leaders = leaders;
        this.staging = staging;
        this.timeout = timeout;
        this.ranksPerNode = local.size();
        this.node = leaders.rank();
        this.nodes = leaders.size();
    }

    /** This node's place among the leaders. */
    int nodeRank() {
        return node;
    }

    /** Global ranks of the group. */
    int ranks() {
        return nodes * ranksPerNode;
    }

    void run(Collective c, DType t, ReduceOp op, long count, int root, List<Tensor> send, List<Tensor> recv) {
        if (c.rooted() && (root < 0 || root >= ranks())) {
            throw new CohortException("root " + root + " is outside ranks 0.." + (ranks() - 1));
        }
        switch (c) {
            case ALL_REDUCE -> allReduce(t, op, count, send, recv);
            case BROADCAST -> broadcast(t, count, root, send, recv);
            case REDUCE -> reduce(t, op, count, root, send, recv);
            case ALL_GATHER -> allGather(t, count, send, recv);
            case REDUCE_SCATTER -> reduceScatter(t, op, count, send, recv);
        }
    }

    private void allReduce(DType t, ReduceOp op, long count, List<Tensor> send, List<Tensor> recv) {
        long bytes = count * t.bytes();
        local(new CollectiveCall(Collective.REDUCE, t, op, count, 0), send, recv);
        MemorySegment s = staging.load(recv.getFirst(), 0, bytes, 0);
        leaders.allReduce(s, t, op, count);
        staging.store(s, recv.getFirst(), 0);
        local(new CollectiveCall(Collective.BROADCAST, t, op, count, 0), recv, recv);
    }

    private void broadcast(DType t, long count, int root, List<Tensor> send, List<Tensor> recv) {
        long bytes = count * t.bytes();
        int rootNode = root / ranksPerNode;
        if (node == rootNode) {
            local(new CollectiveCall(Collective.BROADCAST, t, ReduceOp.SUM, count, root % ranksPerNode), send, recv);
            leaders.broadcast(staging.load(recv.getFirst(), 0, bytes, 0), t, count, rootNode);
        } else {
            MemorySegment s = staging.target(recv.getFirst(), 0, bytes, 0);
            leaders.broadcast(s, t, count, rootNode);
            staging.store(s, recv.getFirst(), 0);
            local(new CollectiveCall(Collective.BROADCAST, t, ReduceOp.SUM, count, 0), recv, recv);
        }
    }

    private void reduce(DType t, ReduceOp op, long count, int root, List<Tensor> send, List<Tensor> recv) {
        long bytes = count * t.bytes();
        int rootNode = root / ranksPerNode;
        List<Tensor> partial = local.allocate(t, count); // recv of non-root ranks must stay untouched
        try {
            local(new CollectiveCall(Collective.REDUCE, t, op, count, 0), send, partial);
            MemorySegment s = staging.load(partial.getFirst(), 0, bytes, 0);
            if (node == rootNode) {
                Tensor out = recv.get(root % ranksPerNode);
                MemorySegment r = staging.target(out, 0, bytes, 1);
                leaders.reduce(s, r, t, op, count, rootNode);
                staging.store(r, out, 0);
            } else {
                leaders.reduce(s, s, t, op, count, rootNode);
            }
        } finally {
            local.release(partial);
        }
    }

    private void allGather(DType t, long count, List<Tensor> send, List<Tensor> recv) {
        long block = count * t.bytes();
        long nodeBlock = block * ranksPerNode;
        MemorySegment all = staging.target(recv.getFirst(), 0, nodeBlock * nodes, 0);
        for (int l = 0; l < ranksPerNode; l++) {
            staging.copyToHost(send.get(l), 0, all.asSlice(node * nodeBlock + l * block, block));
        }
        leaders.allGather(all.asSlice(node * nodeBlock, nodeBlock), all, t, count * ranksPerNode);
        staging.store(all, recv.getFirst(), 0);
        local(new CollectiveCall(Collective.BROADCAST, t, ReduceOp.SUM, count * ranks(), 0), recv, recv);
    }

    private void reduceScatter(DType t, ReduceOp op, long count, List<Tensor> send, List<Tensor> recv) {
        long block = count * t.bytes();
        long total = count * ranks();
        List<Tensor> partial = local.allocate(t, total);
        try {
            local(new CollectiveCall(Collective.REDUCE, t, op, total, 0), send, partial);
            MemorySegment s = staging.load(partial.getFirst(), 0, total * t.bytes(), 0);
            MemorySegment mine = staging.region(1, block * ranksPerNode);
            leaders.reduceScatter(s, mine, t, op, count * ranksPerNode);
            for (int l = 0; l < ranksPerNode; l++) {
                staging.copyFromHost(mine.asSlice(l * block, block), recv.get(l), 0);
            }
        } finally {
            local.release(partial);
        }
    }

    /** A collective of the node's local group, awaited (bounded by the collective timeout). */
    private void local(CollectiveCall call, List<Tensor> send, List<Tensor> recv) {
        try {
            local.run(call, send, recv).toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CohortException("interrupted in the local " + call.collective().cliName(), e);
        } catch (TimeoutException e) {
            throw new CohortException("the local " + call.collective().cliName() + " did not finish within "
                    + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            throw new CohortException("the local " + call.collective().cliName() + " failed: "
                    + e.getCause().getMessage(), e.getCause());
        }
    }
}
