package io.cohort.group;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendChoice;
import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.Backends;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.backend.plan.PlanSettings;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceFactory;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import io.cohort.device.Tensor;
import io.cohort.memory.CarvingMemoryPool;
import io.cohort.memory.MemoryPool;
import io.cohort.topology.HostTopologyDetector;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyDetector;
import io.cohort.topology.TopologyFileDetector;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.ServiceLoader;

/**
 * A group of devices of this process that run collectives together, without actors: rank r is
 * {@code devices.get(r)}. Opening it creates one stream and one memory pool per device, detects the
 * topology and chooses the backend ({@link Backends}); the actors runtime is built from the same pieces.
 *
 * <p>Collectives take one {@link Tensor} per rank and return once every rank's part is enqueued on its
 * stream; {@link #synchronize()} waits for all of them (the {@code ...Sync} variants do both). Calls are
 * numbered 1, 2, 3, ... ({@link #seq()}), the sequence number that orders the ranks' steps on the devices.
 * Every argument is checked before anything is enqueued; errors are {@link CohortException}s that name the
 * rank and the problem.
 *
 * <pre>{@code
 * List<HostDevice> devices = HostDevices.open(4);
 * try (LocalGroup group = LocalGroup.open(devices)) {          // auto: p2p over shared memory
 *     Tensor[] x = new Tensor[4];
 *     for (int r = 0; r < 4; r++) {
 *         x[r] = new Tensor(devices.get(r).allocate(1024 * 4), DType.F32, 1024);
 *     }
 *     group.allReduceSync(x, ReduceOp.SUM);                     // in place on every rank
 *     System.out.println(group.backendChoice());               // what was chosen, and why
 * } finally {
 *     HostDevices.closeAll(devices);
 * }
 * }</pre>
 *
 * <p>Thread-safe: calls are serialised. {@link #close()} waits for the streams, frees the pools and the
 * backend's buffers and joins the stream threads; it does not close the devices.
 */
public final class LocalGroup implements AutoCloseable {

    /** How to open a group; every setting has a default. */
    public static final class Builder {
        private final List<? extends Device> devices;
        private BackendKind backend;
        private TopologyDetector detector;
        private Config config;
        private long poolCapacity;
        private List<BackendProvider> providers;
        private boolean sharedDevices;

        private Builder(List<? extends Device> devices) {
            this.devices = List.copyOf(devices);
        }

        /** Backend to ask for; default {@code cohort.backend.kind} (auto). */
        public Builder backend(BackendKind kind) {
            this.backend = Objects.requireNonNull(kind);
            return this;
        }

        /**
         * How to find the links between the devices. Default: the file of {@code cohort.topology.file} if set,
         * else the devices' own detector ({@link HostTopologyDetector} for host devices, the
         * {@link DeviceFactory}'s for other kinds, else {@link PeerAccessDetector}).
         */
        public Builder detector(TopologyDetector detector) {
            this.detector = Objects.requireNonNull(detector);
            return this;
        }

        /** The full configuration (its {@code cohort} section is used); default {@code ConfigFactory.load()}. */
        public Builder config(Config config) {
            this.config = Objects.requireNonNull(config);
            return this;
        }

        /** Bytes of each rank's pool; default {@code cohort.pool.capacity}. */
        public Builder poolCapacity(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("pool capacity must be positive, got " + bytes);
            }
            this.poolCapacity = bytes;
            return this;
        }

        /** Backend providers to choose from; default those ServiceLoader finds. */
        public Builder providers(List<BackendProvider> providers) {
            this.providers = List.copyOf(providers);
            return this;
        }

        /**
         * Lets several ranks run on one device (the same device object at several ranks, as a spec such as
         * {@code cuda:0*2} opens): each rank still gets its own stream and its own pool, a default pool being
         * that device's share. A development and test aid; a group of one device measures one device.
         */
        public Builder sharedDevices() {
            this.sharedDevices = true;
            return this;
        }

        public LocalGroup open() {
            return new LocalGroup(this);
        }
    }

    private final List<Device> devices;
    private final List<DeviceStream> streams = new ArrayList<>();
    private final List<MemoryPool> pools = new ArrayList<>();
    private final Topology topology;
    private final BackendChoice choice;
    private final CollectiveBackend backend;
    private final int ranks;
    private final DeviceBuffer[] sendBuffers;
    private final DeviceBuffer[] recvBuffers;
    private final DeviceBuffer[] barrierBuffers;
    private long seq;
    private CollectiveCall lastCall;
    private boolean closed;

    /** Starts building a group of {@code devices} (rank r = devices.get(r)). */
    public static Builder builder(List<? extends Device> devices) {
        return new Builder(devices);
    }

    /** A group of {@code devices} with every default. */
    public static LocalGroup open(List<? extends Device> devices) {
        return builder(devices).open();
    }

    /** A group of {@code devices} configured by {@code config} (full configuration, {@code cohort} section). */
    public static LocalGroup open(List<? extends Device> devices, Config config) {
        return builder(devices).config(config).open();
    }

    private LocalGroup(Builder b) {
        if (b.devices.isEmpty()) {
            throw new CohortException("a group needs at least one device");
        }
        for (int i = 0; i < b.devices.size(); i++) {
            for (int j = 0; j < i; j++) {
                Device x = b.devices.get(i);
                Device y = b.devices.get(j);
                if (b.sharedDevices && x == y) {
                    continue;
                }
                if (x == y || (x.kind() == y.kind() && x.ordinal() == y.ordinal())) {
                    throw new CohortException("device " + x.name() + " appears twice in the group (ranks " + j + " and "
                            + i + "): each rank needs its own device");
                }
            }
        }
        this.devices = List.copyOf(b.devices);
        this.ranks = devices.size();
        Config root = b.config != null ? b.config : ConfigFactory.load();
        Config cohort = (root.hasPath("cohort") ? root.getConfig("cohort") : ConfigFactory.empty())
                .withFallback(ConfigFactory.defaultReference().getConfig("cohort"));
        BackendKind requested = b.backend != null ? b.backend : BackendKind.parse(cohort.getString("backend.kind"));
        long configured = PlanSettings.bytesOrAuto(cohort, "pool.capacity");
        try {
            List<RankContext> contexts = new ArrayList<>();
            for (Device d : devices) {
                long shares = devices.stream().filter(x -> x == d).count();
                if (shares > 1) {
                    d.sharedByRanks((int) shares);
                }
            }
            for (int r = 0; r < ranks; r++) {
                Device d = devices.get(r);
                streams.add(d.createStream());
                long shares = devices.stream().filter(x -> x == d).count();
                long capacity = b.poolCapacity > 0 ? b.poolCapacity
                        : configured > 0 ? configured : MemoryPool.defaultCapacity(d.freeMemory() / shares);
                pools.add(CarvingMemoryPool.create(d, capacity));
                contexts.add(new RankContext(r, d, streams.get(r), pools.get(r)));
            }
            TopologyDetector detector = b.detector != null ? b.detector
                    : TopologyFileDetector.fromConfig(root, deviceDetector(devices));
            this.topology = detector.detect(devices);
            if (topology.size() != ranks) {
                throw new CohortException("topology detector returned " + topology.size() + " devices for a group of " + ranks);
            }
            GroupContext context = new GroupContext(topology, contexts, cohort);
            this.choice = b.providers != null ? Backends.choose(requested, context, b.providers)
                    : Backends.choose(requested, context);
            this.backend = choice.create(context);
            this.barrierBuffers = new DeviceBuffer[ranks];
            for (int r = 0; r < ranks; r++) {
                barrierBuffers[r] = pools.get(r).allocate(DType.F32.bytes());
            }
        } catch (RuntimeException e) {
            releaseQuietly();
            throw e;
        }
        this.sendBuffers = new DeviceBuffer[ranks];
        this.recvBuffers = new DeviceBuffer[ranks];
    }

    /** The detector of the devices' kind: host shared memory, a registered {@link DeviceFactory}'s, or peer access. */
    static TopologyDetector deviceDetector(List<? extends Device> devices) {
        DeviceKind kind = devices.getFirst().kind();
        if (devices.stream().anyMatch(d -> d.kind() != kind)) {
            return new PeerAccessDetector();
        }
        if (kind == DeviceKind.HOST) {
            return new HostTopologyDetector();
        }
        for (DeviceFactory factory : ServiceLoader.load(DeviceFactory.class)) {
            if (factory.kind() == kind) {
                return factory.topologyDetector();
            }
        }
        return new PeerAccessDetector();
    }

    public int ranks() {
        return ranks;
    }

    public List<Device> devices() {
        return devices;
    }

    public Topology topology() {
        return topology;
    }

    /** Which backend was chosen, and why. */
    public BackendChoice backendChoice() {
        return choice;
    }

    public CollectiveBackend backend() {
        return backend;
    }

    /** The stream rank {@code rank}'s collectives run on: order your own work on it around them. */
    public DeviceStream stream(int rank) {
        return streams.get(rank);
    }

    public MemoryPool pool(int rank) {
        return pools.get(rank);
    }

    /** Sequence number of the last collective enqueued (0 before the first). */
    public synchronized long seq() {
        return seq;
    }

    // ---------------------------------------------------------------- collectives

    /** recv[r] = op over every send (count = send[0].count()). */
    public void allReduce(Tensor[] send, Tensor[] recv, ReduceOp op) {
        run(Collective.ALL_REDUCE, send, recv, op, 0);
    }

    /** In place: data[r] = op over every data. */
    public void allReduce(Tensor[] data, ReduceOp op) {
        run(Collective.ALL_REDUCE, data, data, op, 0);
    }

    /** recv[root] = op over every send; other ranks' recv are left alone and may be null. */
    public void reduce(Tensor[] send, Tensor[] recv, ReduceOp op, int root) {
        run(Collective.REDUCE, send, recv, op, root);
    }

    /** recv[r] = send[root] on every rank; other ranks' send are not read and may be null. */
    public void broadcast(Tensor[] send, Tensor[] recv, int root) {
        run(Collective.BROADCAST, send, recv, ReduceOp.SUM, root);
    }

    /** In place: data[r] = data[root]. */
    public void broadcast(Tensor[] data, int root) {
        run(Collective.BROADCAST, data, data, ReduceOp.SUM, root);
    }

    /** recv[r] (count) = op over block r of every send (count * ranks). */
    public void reduceScatter(Tensor[] send, Tensor[] recv, ReduceOp op) {
        run(Collective.REDUCE_SCATTER, send, recv, op, 0);
    }

    /** recv[r] (count * ranks) = every rank's send (count), in rank order. */
    public void allGather(Tensor[] send, Tensor[] recv) {
        run(Collective.ALL_GATHER, send, recv, ReduceOp.SUM, 0);
    }

    /** No rank's stream passes the barrier before every rank's stream has reached it. */
    public synchronized void barrier() {
        checkOpen();
        enqueue(CollectiveCall.allReduce(DType.F32, ReduceOp.MAX, 1), barrierBuffers, barrierBuffers);
    }

    public void allReduceSync(Tensor[] send, Tensor[] recv, ReduceOp op) {
        allReduce(send, recv, op);
        synchronize();
    }

    public void allReduceSync(Tensor[] data, ReduceOp op) {
        allReduce(data, op);
        synchronize();
    }

    public void reduceSync(Tensor[] send, Tensor[] recv, ReduceOp op, int root) {
        reduce(send, recv, op, root);
        synchronize();
    }

    public void broadcastSync(Tensor[] send, Tensor[] recv, int root) {
        broadcast(send, recv, root);
        synchronize();
    }

    public void reduceScatterSync(Tensor[] send, Tensor[] recv, ReduceOp op) {
        reduceScatter(send, recv, op);
        synchronize();
    }

    public void allGatherSync(Tensor[] send, Tensor[] recv) {
        allGather(send, recv);
        synchronize();
    }

    public void barrierSync() {
        barrier();
        synchronize();
    }

    /**
     * Waits until every rank's stream has finished its enqueued work. The first failure is thrown as a
     * {@link CohortException} naming its rank (others are attached as suppressed).
     */
    public void synchronize() {
        CohortException failure = null;
        for (int r = 0; r < ranks; r++) {
            try {
                streams.get(r).synchronize();
            } catch (RuntimeException e) {
                CohortException wrapped = new CohortException("rank " + r + " (" + devices.get(r).name() + "): "
                        + e.getMessage(), e);
                if (failure == null) {
                    failure = wrapped;
                } else {
                    failure.addSuppressed(wrapped);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private synchronized void run(Collective collective, Tensor[] send, Tensor[] recv, ReduceOp op, int root) {
        checkOpen();
        CollectiveCall call = validate(collective, send, recv, op, root);
        for (int r = 0; r < ranks; r++) {
            sendBuffers[r] = send[r] == null ? null : send[r].buffer();
            recvBuffers[r] = recv[r] == null ? null : recv[r].buffer();
        }
        enqueue(call, sendBuffers, recvBuffers);
    }

    private void enqueue(CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv) {
        long next = seq + 1;
        backend.enqueueAll(next, call, send, recv);
        seq = next; // only once every rank's part is enqueued: a failed call leaves the numbering alone
    }

    private CollectiveCall validate(Collective collective, Tensor[] send, Tensor[] recv, ReduceOp op, int root) {
        Objects.requireNonNull(op, "op");
        if (collective.rooted() && (root < 0 || root >= ranks)) {
            throw new CohortException(collective.cliName() + ": root " + root + " outside 0.." + (ranks - 1));
        }
        int callRoot = collective.rooted() ? root : 0;
        checkTensors(collective, "send", send, callRoot);
        checkTensors(collective, "recv", recv, callRoot);
        // every rank's tensors have the dtype of the root's send (rank 0's without a root), sends its count
        DType dtype = send[callRoot].dtype();
        long sendCount = send[callRoot].count();
        for (int r = 0; r < ranks; r++) {
            checkDtype(collective, r, "send", send[r], dtype, callRoot);
            checkDtype(collective, r, "recv", recv[r], dtype, callRoot);
            if (send[r] != null && send[r].count() != sendCount) {
                throw new CohortException(collective.cliName() + ": rank " + r + "'s send has " + send[r].count()
                        + " elements, " + model(collective, callRoot) + " has " + sendCount + ": counts must match across ranks");
            }
        }
        if (collective == Collective.REDUCE_SCATTER && sendCount % ranks != 0) {
            throw new CohortException(collective.cliName() + ": send has " + sendCount + " elements, not a multiple of the "
                    + ranks + " ranks");
        }
        long count = collective == Collective.REDUCE_SCATTER ? sendCount / ranks : sendCount;
        long recvCount = collective.recvCount(count, ranks);
        for (int r = 0; r < ranks; r++) {
            if (recv[r] != null && recv[r].count() != recvCount) {
                throw new CohortException(collective.cliName() + ": rank " + r + "'s recv has " + recv[r].count() + " elements, "
                        + collective.cliName() + " of " + count + " per rank over " + ranks + " ranks needs " + recvCount);
            }
        }
        CollectiveCall last = lastCall;
        if (last != null && last.collective() == collective && last.dtype() == dtype && last.op() == op
                && last.count() == count && last.root() == callRoot) {
            return last; // steady state: the same call again allocates nothing
        }
        lastCall = new CollectiveCall(collective, dtype, op, count, callRoot);
        return lastCall;
    }

    private static void checkDtype(Collective collective, int rank, String role, Tensor t, DType dtype, int root) {
        if (t != null && t.dtype() != dtype) {
            throw new CohortException(collective.cliName() + ": rank " + rank + "'s " + role + " is " + t.dtype() + ", "
                    + model(collective, root) + " send is " + dtype + ": every tensor needs the same dtype");
        }
    }

    /** Whose send sets dtype and count, for messages. */
    private static String model(Collective collective, int root) {
        return collective.rooted() ? "rank " + root + "'s (the root's)" : "rank 0's";
    }

    /** One tensor per rank, on the rank's device; null only where the collective does not use it. */
    private void checkTensors(Collective collective, String role, Tensor[] tensors, int root) {
        if (tensors == null || tensors.length != ranks) {
            throw new CohortException(collective.cliName() + ": expected one " + role + " tensor per rank (" + ranks + "), got "
                    + (tensors == null ? "none" : tensors.length));
        }
        for (int r = 0; r < ranks; r++) {
            if (tensors[r] == null) {
                if (role.equals("send") ? collective.usesSend(r, root) : collective.usesRecv(r, root)) {
                    throw new CohortException(collective.cliName() + ": rank " + r + " has no " + role + " tensor");
                }
                continue;
            }
            Device d = tensors[r].device();
            if (d != devices.get(r)) {
                throw new CohortException(collective.cliName() + ": rank " + r + "'s " + role + " tensor is on " + d.name()
                        + ", but rank " + r + " is " + devices.get(r).name());
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new CohortException("group of " + ranks + " devices is closed");
        }
    }

    /** Waits for the streams, frees the backend's and the group's memory, joins the stream threads. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        releaseQuietly();
    }

    private void releaseQuietly() {
        for (DeviceStream s : streams) {
            try {
                s.synchronize();
            } catch (RuntimeException ignored) {
                // reported by synchronize() to whoever waited; closing goes on
            }
        }
        if (backend != null) {
            backend.close();
        }
        pools.forEach(MemoryPool::close);
        streams.forEach(DeviceStream::close);
    }

    @Override
    public String toString() {
        return "LocalGroup[" + devices.stream().map(Device::name).toList() + ", " + choice + "]";
    }
}
