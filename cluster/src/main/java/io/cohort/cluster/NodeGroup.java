package io.cohort.cluster;

import io.cohort.api.CohortGroup;
import io.cohort.core.CohortException;
import io.cohort.device.Tensor;
import io.cohort.transport.PeerFailureException;
import io.cohort.transport.ProcessGroup;
import io.cohort.transport.TransportConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's share of one cluster group: its tensors (by id), its membership among the node leaders (an
 * Aeron {@link ProcessGroup} over UDP) and a worker thread that runs the group's requests in order and
 * answers the coordinator. Every request is answered, with {@link NodeAgent.Failed} naming this node when it
 * throws; a transport failure (a peer node died) breaks the process group and so every later collective.
 */
final class NodeGroup implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(NodeGroup.class);

    private final int id;
    private final NodeInfo info;
    private final CohortGroup local;
    private final TransportConfig transport;
    private final ClusterSettings settings;
    private final TransportPorts.Reservation port;
    private final TransportPorts.Reservation sourcePort;
    private final ExecutorService worker;
    private final Map<Long, List<Tensor>> tensors = new HashMap<>();
    private final NodeStaging staging = new NodeStaging();
    private ProcessGroup leaders;
    private List<String> nodes = List.of();
    private HierarchicalCollective collective;

    NodeGroup(int id, NodeInfo info, CohortGroup local, TransportConfig transport, ClusterSettings settings,
              TransportPorts.Reservation port, TransportPorts.Reservation sourcePort) {
        this.id = id;
        this.info = info;
        this.local = local;
        this.transport = transport;
        this.settings = settings;
        this.port = port;
        this.sourcePort = sourcePort;
        this.worker = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon()
                .name("cohort-cluster-group-" + id).factory());
    }

    /** The UDP ports this group holds on this node: the one its leader receives on, the one it sends from. */
    int[] ports() {
        return new int[] {port.port(), sourcePort.port()};
    }

    void open(NodeAgent.Open m) {
        submit(m.op(), m.replyTo(), () -> {
            TransportConfig c = transport.withMember(m.name(), m.nodeRank(), m.endpoints().size());
            if (m.endpoints().size() > 1) {
                c = c.withUdp(m.endpoints(), m.sources());
            }
            nodes = m.nodes();
            port.release(); // held since prepare so that no other node of this host probed them meanwhile
            sourcePort.release();
            leaders = ProcessGroup.join(c);
            collective = new HierarchicalCollective(local, leaders, staging, settings.collectiveTimeout());
            LOG.info("group {} open: node {} of {}, ranks {}..{}", id, m.nodeRank(), m.endpoints().size(),
                    m.nodeRank() * local.size(), (m.nodeRank() + 1) * local.size() - 1);
            return null;
        });
    }

    void allocate(NodeAgent.Allocate m) {
        submit(m.op(), m.replyTo(), () -> {
            if (tensors.containsKey(m.tensor())) {
                throw new CohortException("tensor " + m.tensor() + " already exists");
            }
            tensors.put(m.tensor(), local.allocate(m.dtype(), m.count()));
            return null;
        });
    }

    void fill(NodeAgent.Fill m) {
        submit(m.op(), m.replyTo(), () -> {
            List<Tensor> ts = tensor(m.tensor());
            try (Arena arena = Arena.ofConfined()) {
                Tensor first = ts.getFirst();
                MemorySegment host = arena.allocate(Math.max(1, first.byteSize()), 64);
                for (int l = 0; l < ts.size(); l++) {
                    int rank = openGroup().nodeRank() * local.size() + l;
                    for (long i = 0; i < first.count(); i++) {
                        first.dtype().set(host, i, Pattern.value(m.seed(), rank, i));
                    }
                    staging.copyFromHost(host.asSlice(0, first.byteSize()), ts.get(l), 0);
                }
            }
            return null;
        });
    }

    void read(NodeAgent.Read m) {
        submit(m.op(), m.replyTo(), () -> {
            List<Tensor> ts = tensor(m.tensor());
            if (m.localRank() < 0 || m.localRank() >= ts.size()) {
                throw new CohortException("local rank " + m.localRank() + " is outside 0.." + (ts.size() - 1));
            }
            Tensor t = ts.get(m.localRank());
            if (m.offset() < 0 || m.bytes() < 0 || m.offset() + m.bytes() > t.byteSize()) {
                throw new CohortException("bytes " + m.offset() + ".." + (m.offset() + m.bytes()) + " are outside the "
                        + t.byteSize() + " bytes of tensor " + m.tensor());
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate(Math.max(1, m.bytes()));
                staging.copyToHost(t, m.offset(), host.asSlice(0, m.bytes()));
                return host.asSlice(0, m.bytes()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            }
        });
    }

    void release(NodeAgent.Release m) {
        submit(m.op(), m.replyTo(), () -> {
            List<Tensor> ts = tensors.remove(m.tensor());
            if (ts != null) {
                local.release(ts);
            }
            return null;
        });
    }

    void run(NodeAgent.Run m) {
        submit(m.op(), m.replyTo(), () -> {
            openGroup().run(m.collective(), m.dtype(), m.reduceOp(), m.count(), m.root(), tensor(m.send()),
                    tensor(m.recv()));
            return null;
        });
    }

    /** Leaves the process group, frees the tensors, answers, and ends the worker. */
    void closeAsync(NodeAgent.CloseGroup m) {
        submit(m.op(), m.replyTo(), () -> {
            release();
            return null;
        });
        worker.shutdown();
    }

    @Override
    public void close() {
        try {
            worker.execute(this::release);
        } catch (RejectedExecutionException e) {
            // already closing
        }
        worker.shutdown();
    }

    private void release() {
        port.release();
        sourcePort.release();
        if (leaders != null) {
            leaders.close();
            leaders = null;
        }
        tensors.values().forEach(local::release);
        tensors.clear();
        staging.close();
    }

    private HierarchicalCollective openGroup() {
        if (collective == null || leaders == null) {
            throw new CohortException("group " + id + " is not open on node " + info.address());
        }
        return collective;
    }

    private List<Tensor> tensor(long tensor) {
        List<Tensor> ts = tensors.get(tensor);
        if (ts == null) {
            throw new CohortException("node " + info.address() + " has no tensor " + tensor + " in group " + id);
        }
        return ts;
    }

    /** Runs {@code work} on the worker; answers Done (Data for bytes) or Failed naming this node. */
    private void submit(long op, ActorRef<NodeAgent.Reply> replyTo, Work work) {
        try {
            worker.execute(() -> {
                long start = System.nanoTime();
                try {
                    Object result = work.run();
                    replyTo.tell(result instanceof byte[] bytes
                            ? new NodeAgent.Data(op, info.address(), bytes)
                            : new NodeAgent.Done(op, info.address(), System.nanoTime() - start));
                } catch (RuntimeException | Error e) {
                    String why = e.getMessage() == null ? e.toString() : e.getMessage();
                    List<String> blamed = List.of();
                    if (e instanceof PeerFailureException p && p.peerRank() >= 0 && p.peerRank() < nodes.size()) {
                        blamed = List.of(nodes.get(p.peerRank()));
                        why = "the leader of node " + blamed.getFirst() + " failed: " + why;
                    }
                    LOG.warn("group {} on node {}: {}", id, info.address(), why);
                    replyTo.tell(new NodeAgent.Failed(op, info.address(), why, blamed));
                }
            });
        } catch (RejectedExecutionException e) {
            replyTo.tell(new NodeAgent.Failed(op, info.address(), "group " + id + " is closing on " + info.address(),
                    List.of()));
        }
    }

    @FunctionalInterface
    private interface Work {
        Object run();
    }
}
