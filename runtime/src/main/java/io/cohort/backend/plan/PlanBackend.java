package io.cohort.backend.plan;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.backend.RankEnqueueException;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import io.cohort.exec.BufferExchange;
import io.cohort.exec.PlanExecutor;
import io.cohort.memory.CarvingMemoryPool;
import io.cohort.memory.MemoryPool;
import io.cohort.memory.PoolExhaustedException;
import io.cohort.plan.Algorithm;
import io.cohort.plan.Plan;
import io.cohort.plan.PlanRequest;
import io.cohort.plan.Planner;
import io.cohort.plan.Planners;
import io.cohort.select.AlgorithmSelector;
import io.cohort.select.SelectionTable;
import io.cohort.select.TableSelector;
import io.cohort.topology.Topology;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Collectives from {@link Plan}s on any {@link Device}: a plan per (collective, count, root, dtype, algorithm)
 * is built once by {@link Planners}, bound by a {@link PlanExecutor} and cached; each call enqueues the
 * rank's bound steps on its stream.
 *
 * <p>P2P plans on the group's topology (steps read and write peers' memory directly); NATIVE plans on
 * {@link Topology#withoutP2p()}, so every cross-device move goes through pinned host STAGING.
 *
 * <p>The algorithm is the forced one ({@code cohort.algorithm.force}) or the {@link AlgorithmSelector}'s
 * choice (by default the {@link TableSelector} of {@code cohort.algorithm.rules}).
 *
 * <p>Ranks may enqueue from their own threads ({@link #enqueue}); when a rank's steps touch a peer's
 * user buffers, its enqueue waits (bounded by {@code cohort.collective.timeout}) until that peer has
 * enqueued the same collective, so give each rank's enqueue its own thread. One thread can drive every
 * rank with {@link #enqueueAll}.
 *
 * <p>Each cached plan keeps its scratch and staging (so consecutive calls never wait for memory). When a
 * new plan does not fit the pools, {@link #enqueueAll} drains the streams and frees every cached plan, then
 * retries; per-rank {@link #enqueue} cannot drain peers it does not drive and fails with the pool's message.
 */
public final class PlanBackend implements CollectiveBackend {

    private static final Logger LOG = LoggerFactory.getLogger(PlanBackend.class);

    private record PlanKey(Collective collective, long count, int root, DType dtype, Algorithm algorithm, int arity) {
    }

    /** An algorithm and, for KARY_TREE, its arity. */
    private record Selection(Algorithm algorithm, int arity) {
    }

    private final BackendKind kind;
    private final Function<Algorithm, Planner> planners;
    private final Topology planTopology;
    private final PlanSettings settings;
    private final AlgorithmSelector selector;
    private final int ranks;
    private final List<Device> devices;
    private final List<DeviceStream> streams;
    private final List<MemoryPool> pools;
    private final MemoryPool[] stagingPools;
    private final Map<PlanKey, PlanExecutor> executors = new ConcurrentHashMap<>();
    private final BufferExchange exchange;
    private final CollectiveCall[] lastCall;
    private final PlanExecutor[] lastExecutor;
    private final DeviceBuffer[][] sendView;
    private final DeviceBuffer[][] recvView;
    private volatile boolean closed;

    /**
     * A plan backend of {@code kind} (P2P or NATIVE) for {@code group}; every rank of the group must be in this
     * process. {@code selector} may be null: the {@link TableSelector} of the configuration's rules.
     */
    public PlanBackend(BackendKind kind, GroupContext group, AlgorithmSelector selector) {
        this(kind, group, selector, Planners::of);
    }

    /** Like {@link #PlanBackend(BackendKind, GroupContext, AlgorithmSelector)} with the planners given (tests, tools). */
    public PlanBackend(BackendKind kind, GroupContext group, AlgorithmSelector selector,
                       Function<Algorithm, Planner> planners) {
        if (kind != BackendKind.P2P && kind != BackendKind.NATIVE) {
            throw new IllegalArgumentException("plan backends are p2p or native, not " + kind);
        }
        Topology topology = group.topology();
        if (group.ranks().size() != topology.size()) {
            throw new CohortException("plan backends need every rank in this process: " + group.ranks().size()
                    + " of " + topology.size() + " ranks are local");
        }
        this.kind = kind;
        this.planners = planners;
        this.planTopology = kind == BackendKind.NATIVE ? topology.withoutP2p() : topology;
        this.settings = PlanSettings.from(group.config());
        this.selector = selector != null ? selector : TableSelector.fromConfig(
                group.config().atPath("cohort").withFallback(ConfigFactory.defaultReference()));
        this.ranks = topology.size();
        List<RankContext> sorted = group.ranks().stream()
                .sorted(Comparator.comparingInt(RankContext::rank)).toList();
        for (int r = 0; r < ranks; r++) {
            if (sorted.get(r).rank() != r) {
                throw new CohortException("group ranks must be 0.." + (ranks - 1) + ", got "
                        + sorted.stream().map(RankContext::rank).toList());
            }
        }
        this.devices = sorted.stream().map(RankContext::device).toList();
        this.streams = sorted.stream().map(RankContext::stream).toList();
        this.pools = sorted.stream().map(RankContext::pool).toList();
        this.stagingPools = new MemoryPool[ranks];
        this.exchange = new BufferExchange(ranks, settings.timeout());
        this.lastCall = new CollectiveCall[ranks + 1];
        this.lastExecutor = new PlanExecutor[ranks + 1];
        this.sendView = new DeviceBuffer[ranks + 1][ranks];
        this.recvView = new DeviceBuffer[ranks + 1][ranks];
    }

    @Override
    public BackendKind kind() {
        return kind;
    }

    @Override
    public int ranks() {
        return ranks;
    }

    /** The topology plans are built on (without P2P for NATIVE). */
    public Topology planTopology() {
        return planTopology;
    }

    @Override
    public void enqueue(int rank, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        checkRank(rank);
        validate(rank, call, send, recv);
        if (call.count() == 0) {
            return;
        }
        PlanExecutor executor = executor(rank, call);
        DeviceBuffer[] s = sendView[rank];
        DeviceBuffer[] r = recvView[rank];
        s[rank] = send;
        r[rank] = recv;
        exchange.publish(rank, seq, send, recv);
        for (int i = 0, n = executor.userBufferRankCount(rank); i < n; i++) {
            int peer = executor.userBufferRank(rank, i);
            if (peer != rank) {
                exchange.await(rank, peer, seq, s, r);
            }
        }
        executor.enqueue(rank, seq, call.op(), s, r);
    }

    @Override
    public synchronized void enqueueAll(long seq, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv) {
        if (send.length != ranks || recv.length != ranks) {
            throw new CohortException("enqueueAll needs " + ranks + " send and recv buffers, got " + send.length
                    + " and " + recv.length);
        }
        for (int r = 0; r < ranks; r++) {
            validate(r, call, send[r], recv[r]);
        }
        if (call.count() == 0) {
            return;
        }
        PlanExecutor executor = executor(ranks, call);
        DeviceBuffer[] s = sendView[ranks];
        DeviceBuffer[] r = recvView[ranks];
        System.arraycopy(send, 0, s, 0, ranks);
        System.arraycopy(recv, 0, r, 0, ranks);
        for (int rank = 0; rank < ranks; rank++) {
            try {
                executor.enqueue(rank, seq, call.op(), s, r);
            } catch (RuntimeException e) {
                throw new RankEnqueueException(rank, e);
            }
        }
    }

    @Override
    public String describe(CollectiveCall call) {
        Selection selection = selection(call);
        Plan plan = planners.apply(selection.algorithm()).plan(request(call, selection.arity()));
        return kind.cliName() + " backend, " + selection.algorithm().cliName() + ": " + plan.description();
    }

    /** The algorithm this backend runs {@code call} with. */
    public Algorithm algorithm(CollectiveCall call) {
        return selection(call).algorithm();
    }

    private Selection selection(CollectiveCall call) {
        if (settings.forcedAlgorithm() != null) {
            return new Selection(settings.forcedAlgorithm(), settings.arity());
        }
        long bytes = call.count() * call.dtype().bytes();
        if (selector instanceof TableSelector table) {
            SelectionTable.Choice choice = table.choose(call.collective(), planTopology, bytes, call.dtype());
            return new Selection(choice.algorithm(), choice.arity());
        }
        return new Selection(selector.select(call.collective(), planTopology, bytes, call.dtype()), settings.arity());
    }

    private PlanRequest request(CollectiveCall call, int arity) {
        int root = call.collective().rooted() ? call.root() : 0;
        return new PlanRequest(call.collective(), planTopology, call.count(), root, arity, settings.chunkElements());
    }

    /** The executor for {@code call}; slot {@code ranks} is the enqueueAll caller's. */
    private PlanExecutor executor(int slot, CollectiveCall call) {
        if (call.equals(lastCall[slot])) {
            return lastExecutor[slot];
        }
        if (closed) {
            throw new CohortException(kind.cliName() + " backend is closed");
        }
        Selection selection = selection(call);
        int root = call.collective().rooted() ? call.root() : 0;
        PlanKey key = new PlanKey(call.collective(), call.count(), root, call.dtype(), selection.algorithm(),
                selection.algorithm() == Algorithm.KARY_TREE ? selection.arity() : 0);
        PlanExecutor executor;
        try {
            executor = executors.computeIfAbsent(key, k -> newExecutor(selection, call));
        } catch (CohortException e) {
            if (slot < ranks || !(e.getCause() instanceof PoolExhaustedException) || executors.isEmpty()) {
                throw e;
            }
            // one thread drives every rank (enqueueAll), so all streams can drain: free the cached plans and retry
            evictAll();
            executor = executors.computeIfAbsent(key, k -> newExecutor(selection, call));
        }
        lastCall[slot] = call;
        lastExecutor[slot] = executor;
        return executor;
    }

    private PlanExecutor newExecutor(Selection selection, CollectiveCall call) {
        Plan plan = planners.apply(selection.algorithm()).plan(request(call, selection.arity()));
        return new PlanExecutor(plan, call.dtype(), devices, streams, pools, this::stagingPool, planTopology);
    }

    /** Waits for every stream, then returns all cached plans' scratch, staging and flags to the pools. */
    private void evictAll() {
        int evicted = executors.size();
        drainStreams();
        executors.values().forEach(PlanExecutor::close);
        executors.clear();
        Arrays.fill(lastCall, null);
        Arrays.fill(lastExecutor, null);
        LOG.info("{} backend: pools full, evicted {} cached plans", kind.cliName(), evicted);
    }

    private void drainStreams() {
        for (DeviceStream s : streams) {
            try {
                s.synchronize();
            } catch (RuntimeException ignored) {
                // the failure belongs to an earlier collective and is reported to whoever synchronizes
            }
        }
    }

    private synchronized MemoryPool stagingPool(int rank) {
        if (stagingPools[rank] == null) {
            Device d = devices.get(rank);
            // auto: the pool rule, but never more than a quarter of what is free (small host devices in tests)
            long capacity = settings.stagingCapacity() > 0 ? settings.stagingCapacity()
                    : Math.min(MemoryPool.defaultCapacity(d.freeMemory()), Math.max(d.freeMemory() / 4, 4096));
            stagingPools[rank] = CarvingMemoryPool.create(d, capacity, CarvingMemoryPool.Source.PINNED_HOST);
        }
        return stagingPools[rank];
    }

    private void checkRank(int rank) {
        if (rank < 0 || rank >= ranks) {
            throw new CohortException("rank " + rank + " outside 0.." + (ranks - 1) + " of this " + ranks + "-rank group");
        }
    }

    /** Checks one rank's arguments; allocates nothing unless it throws. */
    private void validate(int rank, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        if (call.collective().rooted() && call.root() >= ranks) {
            throw new CohortException("rank " + rank + ": root " + call.root() + " outside 0.." + (ranks - 1));
        }
        Collective c = call.collective();
        checkUserBuffer(rank, call, "send", send, c.usesSend(rank, call.root()), call.sendBytes(ranks));
        checkUserBuffer(rank, call, "recv", recv, c.usesRecv(rank, call.root()), call.recvBytes(ranks));
    }

    /** One user buffer: absent only where the collective does not use it, else large enough and reachable. */
    private void checkUserBuffer(int rank, CollectiveCall call, String role, DeviceBuffer buffer, boolean used,
                                 long bytes) {
        if (buffer == null) {
            if (used) {
                throw new CohortException("rank " + rank + ": " + what(call) + " needs a " + role + " buffer");
            }
            return;
        }
        if (buffer.byteSize() < bytes) {
            throw new CohortException("rank " + rank + ": " + role + " buffer holds " + buffer.byteSize() + " bytes, "
                    + what(call) + " over " + ranks + " ranks needs " + bytes);
        }
        Device device = devices.get(rank);
        if (!device.canReach(buffer)) {
            throw new CohortException("rank " + rank + " (" + device.name() + ") cannot reach its " + role
                    + " buffer on " + buffer.device().name());
        }
    }

    private static String what(CollectiveCall call) {
        return call.collective() + " of " + call.count() + " x " + call.dtype();
    }

    /** Waits for the streams to drain, then returns every plan's scratch, staging and flags. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        drainStreams();
        executors.values().forEach(PlanExecutor::close);
        executors.clear();
        for (int r = 0; r < ranks; r++) {
            if (stagingPools[r] != null) {
                stagingPools[r].close();
            }
        }
    }

    @Override
    public String toString() {
        return "PlanBackend[" + kind.cliName() + ", " + ranks + " ranks, " + executors.size() + " plans]";
    }
}
