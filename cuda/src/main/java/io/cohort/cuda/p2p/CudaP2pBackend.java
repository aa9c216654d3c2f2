package io.cohort.cuda.p2p;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static jcuda.driver.JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor;

import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.backend.RankEnqueueException;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.Cu;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.CudaKernels;
import io.cohort.cuda.CudaStream;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import io.cohort.cuda.KernelArgs;
import jcuda.driver.CUfunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * All-reduce through Cohort's P2P kernels (src/main/cuda/allreduce.cu) for ranks of one process whose
 * devices reach each other's memory: a one-shot kernel for small messages (one barrier, every rank reads
 * every input) and a two-shot kernel for large ones (reduce-scatter then all-gather inside one launch).
 *
 * <p>User buffers need no registration: each rank's kernel first copies its input into the rank's
 * registered staging buffer (allocated here once, double-buffered), whose address every peer's kernel
 * knows; peers read staging directly over NVLink/PCIe (or the same device's memory for several ranks on one
 * GPU). Messages larger than the staging run as several launches.
 *
 * <p>Other collectives go to the best other available P2P provider (the plan-based backend), else NATIVE.
 *
 * <p>Threading: rank r's {@link #enqueue} touches only rank r's state, so every rank may enqueue from its
 * own thread. A launch allocates nothing: its argument block is a per-rank array rewritten in place.
 *
 * <p><b>Why one file of more than 500 lines.</b> The eager, graph-captured and fused (all-reduce + residual +
 * RMSNorm) launches share the staging buffers, the flag epochs and the argument block; their ordering rules
 * are one protocol with the kernels in allreduce.cu and are kept beside each other on purpose.
 */
public final class CudaP2pBackend implements CollectiveBackend {

    private static final Logger LOG = LoggerFactory.getLogger(CudaP2pBackend.class);
    private static final int MAX_RANKS = P2pConfig.MAX_RANKS;
    // struct ArArgs in allreduce.cu: send, recv, stage[8], mid[8], sig[8], count, epoch, rank, nranks,
    // scale+pad, timeout_ns, error
    private static final int ARG_STAGE = 2;
    private static final int ARG_MID = ARG_STAGE + MAX_RANKS;
    private static final int ARG_SIG = ARG_MID + MAX_RANKS;
    private static final int ARG_COUNT = ARG_SIG + MAX_RANKS;
    private static final int ARG_LONGS = ARG_COUNT + 7;
    // struct EagerArArgs: ArArgs, done_word, done_value, done_count
    private static final int EARG_DONE = ARG_LONGS;
    private static final int EARG_LONGS = EARG_DONE + 3;
    // struct GraphArArgs: ArArgs, stage1[8], mid1[8], launches
    private static final int GARG_STAGE1 = ARG_LONGS;
    private static final int GARG_MID1 = GARG_STAGE1 + MAX_RANKS;
    private static final int GARG_LAUNCHES = GARG_MID1 + MAX_RANKS;
    private static final int GARG_LONGS = GARG_LAUNCHES + 1;
    // struct FusedArArgs: GraphArArgs, residual, weight, normed, cols, eps+pad
    private static final int FARG_RESIDUAL = GARG_LONGS;
    private static final int FARG_LONGS = FARG_RESIDUAL + 5;

    private final GroupContext group;
    private final P2pConfig config;
    private final int n;
    private final Rank[] ranks;
    private final long chunkBytes;
    private final int blockCap;
    /** Ranks 1..n-1 of an eager all-reduce enqueued on threads of their own, or null (the caller enqueues them). */
    private final RankLanes lanes;
    // the all-reduce enqueueAll posts to the lanes (written before the post, read by the lanes after it)
    private CollectiveCall postedCall;
    private DeviceBuffer[] postedSend;
    private DeviceBuffer[] postedRecv;
    private DeviceStream[] postedStreams;
    private DeviceEvent[] postedDone;
    private volatile CollectiveBackend fallback;
    private volatile boolean closed;
    private volatile boolean graphsPrepared;

    /** One rank's device resources and launch bookkeeping. */
    private static final class Rank {
        final int rank;
        final CudaDevice device;
        final CudaStream stream;
        final CudaBuffer[] stage = new CudaBuffer[2];
        final CudaBuffer[] mid = new CudaBuffer[2];
        CudaBuffer signals;
        /** The eager kernels' block tickets (EagerArArgs.done_count): 0 between launches. */
        CudaBuffer doneCount;
        final KernelArgs args = new KernelArgs(EARG_LONGS);
        long launches;
        long epoch;
        long lastSeq = Long.MIN_VALUE;
        // graph launches: staging, flags and per-block launch counters of their own ({@link #prepareGraphs})
        final CudaBuffer[] graphStage = new CudaBuffer[2];
        final CudaBuffer[] graphMid = new CudaBuffer[2];
        CudaBuffer graphSignals;
        CudaBuffer graphLaunches;
        final KernelArgs graphArgs = new KernelArgs(GARG_LONGS);
        final KernelArgs fusedArgs = new KernelArgs(FARG_LONGS);

        Rank(int rank, CudaDevice device, CudaStream stream) {
            this.rank = rank;
            this.device = device;
            this.stream = stream;
        }
    }

    CudaP2pBackend(GroupContext group, P2pConfig config) {
        this.group = group;
        this.config = config;
        this.n = group.ranks().size();
        if (n < 1 || n > MAX_RANKS) {
            throw new CohortException("cuda-p2p backend serves 1.." + MAX_RANKS + " ranks, not " + n);
        }
        // whole 16-byte units for every rank's two-shot slice
        this.chunkBytes = LaunchShape.chunkBytes(config.chunkBytes(), n);
        long midBytes = chunkBytes / n;
        this.ranks = new Rank[n];
        try {
            for (RankContext rc : group.ranks()) {
                Rank r = new Rank(rc.rank(), (CudaDevice) rc.device(), (CudaStream) rc.stream());
                ranks[rc.rank()] = r;
                for (int parity = 0; parity < 2; parity++) {
                    r.stage[parity] = r.device.allocate(chunkBytes);
                    r.mid[parity] = r.device.allocate(midBytes);
                }
                r.signals = r.device.allocate((long) P2pConfig.MAX_BLOCKS * MAX_RANKS * Long.BYTES);
                r.device.zeroSync(r.signals);
                r.doneCount = r.device.allocate(16);
                r.device.zeroSync(r.doneCount);
            }
        } catch (RuntimeException e) {
            freeAll();
            throw e;
        }
        this.blockCap = residentBlockCap();
        for (Rank r : ranks) {
            r.args.set(ARG_COUNT + 2, r.rank);
            r.args.set(ARG_COUNT + 3, n);
            r.args.set(ARG_COUNT + 5, config.timeout().toNanos());
            r.args.set(ARG_COUNT + 6, r.device.errorWordAddress());
            r.args.set(EARG_DONE + 2, r.doneCount.address());
            for (int p = 0; p < n; p++) {
                r.args.set(ARG_SIG + p, ranks[p].signals.address());
            }
        }
        this.lanes = config.lanesFor(n, Runtime.getRuntime().availableProcessors())
                ? new RankLanes(n, this::allReducePosted, config.laneLinger(), "cohort-p2p") : null;
        LOG.debug("cuda-p2p backend: {} ranks, staging {} B per rank and buffer, up to {} blocks of {} threads, {}",
                n, chunkBytes, blockCap, config.threads(), lanes == null ? "ranks enqueued in turn" : "launch lanes");
    }

    /** Rank {@code rank}'s part of the all-reduce posted by {@link #enqueueAll} (on its lane, or the caller's thread). */
    private void allReducePosted(int rank) {
        DeviceEvent[] done = postedDone;
        allReduceAndRecord(rank, postedCall, postedSend[rank], postedRecv[rank],
                done == null ? null : postedStreams[rank], done == null ? null : done[rank]);
    }

    /**
     * Rank {@code rank}'s part, then (with {@code done}) its event behind it on {@code stream}: written by the
     * kernel's last block where it can be ({@code cohort.cuda.p2p.kernel-completion}, a completion event with a
     * word, the rank's own stream, a kernel to write it), else recorded.
     */
    private void allReduceAndRecord(int rank, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv,
                                    DeviceStream stream, DeviceEvent done) {
        Rank r = ranks[rank];
        CudaEvent signal = done instanceof CudaEvent e && stream == r.stream && config.kernelCompletion()
                && e.kernelCanSignal() ? e : null;
        if (!allReduce(r, call, send, recv, signal) && done != null) {
            stream.record(done);
        }
    }

    /**
     * Blocks per launch such that every rank's blocks are resident at once: ranks sharing a device spin
     * on each other, so a block waiting for a free SM would never be scheduled.
     */
    private int residentBlockCap() {
        Map<Integer, Integer> ranksPerDevice = new HashMap<>();
        for (Rank r : ranks) {
            ranksPerDevice.merge(r.device.ordinal(), 1, Integer::sum);
        }
        int cap = config.maxBlocks();
        for (Rank r : ranks) {
            CudaKernels k = r.device.kernels();
            int perSm = Integer.MAX_VALUE;
            for (DType t : DType.values()) {
                for (ReduceOp op : List.of(ReduceOp.SUM, ReduceOp.MAX, ReduceOp.MIN)) {
                    perSm = Math.min(perSm, occupancy(r.device, k.oneShot(t, op)));
                    perSm = Math.min(perSm, occupancy(r.device, k.twoShot(t, op)));
                }
                perSm = Math.min(perSm, occupancy(r.device, k.addRmsNorm(t, false)));
                perSm = Math.min(perSm, occupancy(r.device, k.addRmsNorm(t, true)));
            }
            int resident = perSm * r.device.multiprocessors() / ranksPerDevice.get(r.device.ordinal());
            cap = Math.min(cap, resident);
        }
        if (cap < 1) {
            throw new CohortException("cuda-p2p backend: too many ranks per device for the kernels to be resident together ("
                    + ranksPerDevice + ")");
        }
        return cap;
    }

    private int occupancy(CudaDevice device, CUfunction f) {
        int[] blocks = new int[1];
        device.makeCurrent();
        Cu.check(cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, f, config.threads(), 0), device.name(),
                "cuOccupancyMaxActiveBlocksPerMultiprocessor");
        return blocks[0];
    }

    @Override
    public BackendKind kind() {
        return BackendKind.P2P;
    }

    @Override
    public int ranks() {
        return n;
    }

    /** Bytes of registered staging per rank and buffer: the largest message one launch carries. */
    public long chunkBytes() {
        return chunkBytes;
    }

    /** Upper bound on blocks per launch for this group. */
    public int blockCap() {
        return blockCap;
    }

    @Override
    public void enqueue(int rank, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        Rank r = admit(rank, seq, call, send, recv);
        if (call.collective() != Collective.ALL_REDUCE) {
            fallback().enqueue(rank, seq, call, send, recv);
            return;
        }
        allReduce(r, call, send, recv, null);
    }

    /**
     * Every rank from one call. All-reduce needs no meeting on the host (the ranks meet on the devices), so its
     * ranks are enqueued independently: ranks 1..n-1 on their launch lanes while this thread enqueues rank 0
     * where the backend has lanes ({@code cohort.cuda.p2p.launch-lanes}) and the streams are not being captured,
     * else rank by rank on this thread. Other collectives go to the fallback's enqueueAll, whose ranks may have
     * to meet while enqueueing.
     */
    @Override
    public void enqueueAll(long seq, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv) {
        enqueueAll(seq, call, send, recv, null, null);
    }

    /** With launch lanes, each rank's event is recorded on the thread that enqueued its part, right behind it. */
    @Override
    public void enqueueAllAndRecord(long seq, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv,
                                    DeviceStream[] streams, DeviceEvent[] done) {
        if (streams.length != n || done.length != n) {
            throw new CohortException("cuda-p2p enqueueAllAndRecord needs " + n + " streams and events, got "
                    + streams.length + " and " + done.length);
        }
        enqueueAll(seq, call, send, recv, streams, done);
    }

    /** Every rank's part, then (with {@code done}) each rank's event behind it; on the lanes where there are. */
    private void enqueueAll(long seq, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv,
                            DeviceStream[] streams, DeviceEvent[] done) {
        if (send.length != n || recv.length != n) {
            throw new CohortException("cuda-p2p enqueueAll needs " + n + " send and recv buffers, got " + send.length
                    + " and " + recv.length);
        }
        for (int rank = 0; rank < n; rank++) {
            admit(rank, seq, call, send[rank], recv[rank]);
        }
        if (call.collective() != Collective.ALL_REDUCE) {
            fallback().enqueueAll(seq, call, send, recv);
            record(streams, done);
            return;
        }
        if (lanes != null && !ranks[0].stream.isCapturing()) {
            // read by the lanes after runAll's post publishes them; runAll returns once every rank's part returned
            postedCall = call;
            postedSend = send;
            postedRecv = recv;
            postedStreams = streams;
            postedDone = done;
            try {
                lanes.runAll(System.nanoTime() + config.timeout().toNanos());
            } finally {
                postedCall = null;
                postedSend = null;
                postedRecv = null;
                postedStreams = null;
                postedDone = null;
            }
            return;
        }
        for (int rank = 0; rank < n; rank++) {
            try {
                allReduceAndRecord(rank, call, send[rank], recv[rank], done == null ? null : streams[rank],
                        done == null ? null : done[rank]);
            } catch (RuntimeException e) {
                throw e instanceof RankEnqueueException re ? re : new RankEnqueueException(rank, e);
            }
        }
    }

    private static void record(DeviceStream[] streams, DeviceEvent[] done) {
        if (done == null) {
            return;
        }
        for (int r = 0; r < streams.length; r++) {
            try {
                streams[r].record(done[r]);
            } catch (RuntimeException e) {
                throw new RankEnqueueException(r, e);
            }
        }
    }

    /** Checks the call for one rank and takes its sequence number; nothing is enqueued. */
    private Rank admit(int rank, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        if (closed) {
            throw new CohortException("cuda-p2p backend is closed (rank " + rank + ", seq " + seq + ")");
        }
        if (rank < 0 || rank >= n) {
            throw new CohortException("rank " + rank + " outside 0.." + (n - 1) + " of the cuda-p2p group");
        }
        Rank r = ranks[rank];
        validate(r, call, send, recv);
        if (seq <= r.lastSeq) {
            throw new CohortException("rank " + rank + " (" + r.device.name() + "): collective seq " + seq
                    + " after seq " + r.lastSeq + "; each rank must enqueue collectives in increasing seq order");
        }
        r.lastSeq = seq;
        return r;
    }

    /** Whether {@link #prepareGraphs} has run: all-reduces may then be captured into CUDA graphs. */
    public boolean graphsPrepared() {
        return graphsPrepared;
    }

    /**
     * Allocates what all-reduces captured into CUDA graphs use (staging, flags and per-block launch counters
     * of their own: a replayed launch takes its epoch and staging parity from the device, not from arguments
     * fixed at capture). Synchronous (allocations, zeroing): call it before capturing, not during.
     * Idempotent; {@code io.cohort.cuda.graph.GraphCapture} calls it.
     */
    public synchronized void prepareGraphs() {
        if (graphsPrepared) {
            return;
        }
        if (closed) {
            throw new CohortException("cuda-p2p backend is closed");
        }
        long midBytes = chunkBytes / n;
        for (Rank r : ranks) {
            for (int parity = 0; parity < 2; parity++) {
                r.graphStage[parity] = r.device.allocate(chunkBytes);
                r.graphMid[parity] = r.device.allocate(midBytes);
            }
            r.graphSignals = r.device.allocate((long) P2pConfig.MAX_BLOCKS * MAX_RANKS * Long.BYTES);
            r.graphLaunches = r.device.allocate((long) P2pConfig.MAX_BLOCKS * Long.BYTES);
            r.device.zeroSync(r.graphSignals);
            r.device.zeroSync(r.graphLaunches);
        }
        for (Rank r : ranks) {
            KernelArgs a = r.graphArgs;
            a.set(ARG_COUNT + 1, 0);
            a.set(ARG_COUNT + 2, r.rank);
            a.set(ARG_COUNT + 3, n);
            a.set(ARG_COUNT + 5, config.timeout().toNanos());
            a.set(ARG_COUNT + 6, r.device.errorWordAddress());
            for (int p = 0; p < n; p++) {
                a.set(ARG_STAGE + p, ranks[p].graphStage[0].address());
                a.set(ARG_MID + p, ranks[p].graphMid[0].address());
                a.set(ARG_SIG + p, ranks[p].graphSignals.address());
                a.set(GARG_STAGE1 + p, ranks[p].graphStage[1].address());
                a.set(GARG_MID1 + p, ranks[p].graphMid[1].address());
            }
            a.set(GARG_LAUNCHES, r.graphLaunches.address());
        }
        graphsPrepared = true;
    }

    /**
     * Whether {@link #enqueueAllReduceAddRmsNorm} takes an f32 message of {@code rows x cols}: two ranks or more,
     * and the message fits one launch's staging. The answer is the same on every rank for the same shape, so
     * every rank takes the same path.
     */
    public boolean fusesAddRmsNorm(long rows, int cols) {
        return n > 1 && rows > 0 && cols > 0 && rows * cols * Float.BYTES <= chunkBytes;
    }

    /**
     * The all-reduce after a row-parallel GEMM fused with the residual add and RMSNorm that follow it, one kernel
     * (allreduce.cu, cohort_ar_add_rmsnorm_*): {@code residual += sum over ranks of partial}, then
     * {@code normed = rmsNorm(residual) * weight} row-wise, all f32 but the weight. Every rank sums in rank order,
     * so residual and normed are bit-identical across ranks; partial is left as it was (its sum is not written).
     * Collective number {@code seq}, stream-ordered on the rank's stream, captured into CUDA graphs like the
     * plain all-reduce. Callers check {@link #fusesAddRmsNorm} first and otherwise all-reduce, then add and norm.
     */
    public void enqueueAllReduceAddRmsNorm(int rank, long seq, DeviceBuffer partial, long rows, int cols,
                                           DeviceBuffer residual, DeviceBuffer weight, DType weightType, float eps,
                                           DeviceBuffer normed) {
        Rank r = ranks[checkedRank(rank)];
        boolean graph = r.stream.isCapturing();
        KernelArgs a = r.fusedArgs;
        bindFused(rank, seq, partial, rows, cols, residual, weight, weightType, eps, normed, graph, a.words());
        int grid = (int) Math.min(rows, blockCap);
        r.device.launch(r.device.kernels().addRmsNorm(weightType, graph), grid, config.threads(), r.stream.nativeHandle(),
                a, graph ? "fused P2P all-reduce + RMSNorm (graph)" : "fused P2P all-reduce + RMSNorm",
                config.programmaticLaunch());
    }

    /** Bytes of the fused all-reduce's argument struct (FusedArArgs in allreduce.cuh) that {@link #bindAllReduceAddRmsNorm} writes. */
    public static final long FUSED_ARGS_BYTES = (long) FARG_LONGS * Long.BYTES;

    /**
     * The fused all-reduce + residual add + RMSNorm of {@link #enqueueAllReduceAddRmsNorm} as the epilogue of a kernel
     * the caller launches (gemv.cu's cohort_gemv_arnorm_*: the row-parallel GEMV whose blocks store their sums
     * straight into this rank's staging, and whose last block runs the all-reduce). Takes collective number
     * {@code seq} and writes the all-reduce's arguments (FusedArArgs, {@link #FUSED_ARGS_BYTES}) at the start of
     * {@code args}. The caller launches that kernel at once, on a stream ordered after every earlier collective of
     * this rank (its compute stream: the group's stream waits for it before the next one), and says whether that
     * stream is being captured ({@code graph}: epoch and staging parity then come from the device, as for every
     * graph launch). Callers check {@link #fusesAddRmsNorm} first.
     */
    public void bindAllReduceAddRmsNorm(int rank, long seq, long rows, int cols, DeviceBuffer residual,
                                        DeviceBuffer weight, DType weightType, float eps, DeviceBuffer normed,
                                        boolean graph, MemorySegment args) {
        if (args.byteSize() < FUSED_ARGS_BYTES) {
            throw new IllegalArgumentException("fused all-reduce arguments need " + FUSED_ARGS_BYTES + " bytes, got "
                    + args.byteSize());
        }
        // the kernel stores its sums into the staging itself: the residual stands in for the unused send buffer
        bindFused(rank, seq, residual, rows, cols, residual, weight, weightType, eps, normed, graph, args);
    }

    private int checkedRank(int rank) {
        if (rank < 0 || rank >= n) {
            throw new CohortException("rank " + rank + " outside 0.." + (n - 1) + " of the cuda-p2p group");
        }
        return rank;
    }

    /** Checks a fused all-reduce, takes its number and writes its FusedArArgs into {@code w}. */
    private void bindFused(int rank, long seq, DeviceBuffer partial, long rows, int cols, DeviceBuffer residual,
                           DeviceBuffer weight, DType weightType, float eps, DeviceBuffer normed, boolean graph,
                           MemorySegment w) {
        if (!fusesAddRmsNorm(rows, cols)) {
            throw new CohortException("cuda-p2p: no fused all-reduce + RMSNorm for " + rows + " x " + cols + " over "
                    + n + " ranks (staging " + chunkBytes + " B); check fusesAddRmsNorm first");
        }
        long bytes = rows * cols * Float.BYTES;
        CollectiveCall call = CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, rows * cols);
        Rank r = ranks[checkedRank(rank)];
        if (residual.byteSize() < bytes || normed.byteSize() < bytes || weight.byteSize() < (long) cols * weightType.bytes()
                || !r.device.canReach(residual) || !r.device.canReach(normed) || !r.device.canReach(weight)) {
            throw new CohortException("rank " + rank + " (" + r.device.name() + "): fused all-reduce + RMSNorm of "
                    + rows + " x " + cols + ": residual, weight or normed buffer too small or unreachable");
        }
        if (graph && !graphsPrepared) {
            throw new CohortException("rank " + rank + " (" + r.device.name() + "): a fused cuda-p2p all-reduce is being"
                    + " captured into a CUDA graph, but the group was not prepared for graphs");
        }
        admit(rank, seq, call, partial, partial);
        int parity = 0;
        long epoch = 0;
        if (!graph) {
            parity = (int) (r.launches++ & 1);
            epoch = r.epoch + 1;
            r.epoch += 1;   // one barrier, as the one-shot kernel
        }
        set(w, 0, partial.address());
        set(w, 1, partial.address());
        for (int p = 0; p < n; p++) {
            set(w, ARG_STAGE + p, graph ? ranks[p].graphStage[0].address() : ranks[p].stage[parity].address());
            set(w, ARG_MID + p, 0);
            set(w, ARG_SIG + p, graph ? ranks[p].graphSignals.address() : ranks[p].signals.address());
            set(w, GARG_STAGE1 + p, graph ? ranks[p].graphStage[1].address() : 0);
            set(w, GARG_MID1 + p, 0);
        }
        set(w, ARG_COUNT, rows * cols);
        set(w, ARG_COUNT + 1, epoch);
        set(w, ARG_COUNT + 2, r.rank);
        set(w, ARG_COUNT + 3, n);
        setFloat(w, ARG_COUNT + 4, 1.0f);
        set(w, ARG_COUNT + 5, config.timeout().toNanos());
        set(w, ARG_COUNT + 6, r.device.errorWordAddress());
        set(w, GARG_LAUNCHES, graph ? r.graphLaunches.address() : 0);
        set(w, FARG_RESIDUAL, residual.address());
        set(w, FARG_RESIDUAL + 1, weight.address());
        set(w, FARG_RESIDUAL + 2, normed.address());
        set(w, FARG_RESIDUAL + 3, cols);
        // FusedTail.mode beside eps: the register form (allreduce.cuh FUSED_REGISTERS) for the standalone kernel
        set(w, FARG_RESIDUAL + 4, (Float.floatToRawIntBits(eps) & 0xffff_ffffL)
                | ((config.fusedRegisters() ? 1L : 0L) << 32));
    }

    private static void set(MemorySegment w, int word, long value) {
        w.setAtIndex(ValueLayout.JAVA_LONG, word, value);
    }

    /** A float in the low half of a word, the padding after it zero. */
    private static void setFloat(MemorySegment w, int word, float value) {
        set(w, word, Float.floatToRawIntBits(value) & 0xffff_ffffL);
    }

    /**
     * Enqueues rank {@code r}'s part. With {@code signal} (an eager launch), the last kernel's last block writes the
     * event's word; returns whether it will (false: no kernel runs, or a graph is being captured).
     */
    private boolean allReduce(Rank r, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv, CudaEvent signal) {
        DType t = call.dtype();
        long count = call.count();
        if (count == 0) {
            return false;
        }
        if (n == 1) {   // nothing to combine (AVG scales by 1): a copy, or nothing in place
            if (send.address() != recv.address()) {
                r.stream.copy(send, 0, recv, 0, count * t.bytes());
            }
            return false;
        }
        P2pConfig.Path path = config.pathFor(count * t.bytes());
        boolean graph = r.stream.isCapturing();
        if (graph && !graphsPrepared) {
            throw new CohortException("rank " + r.rank + " (" + r.device.name() + "): a cuda-p2p all-reduce is being"
                    + " captured into a CUDA graph, but the group was not prepared for graphs (capture through"
                    + " io.cohort.cuda.graph.GraphCapture, or call CudaP2pBackend.prepareGraphs() before capturing)");
        }
        CudaKernels k = r.device.kernels();
        CUfunction f = path == P2pConfig.Path.ONE_SHOT
                ? (graph ? k.graphOneShot(t, call.op()) : k.oneShot(t, call.op()))
                : (graph ? k.graphTwoShot(t, call.op()) : k.twoShot(t, call.op()));
        float scale = call.op() == ReduceOp.AVG ? (float) (1.0 / n) : 1.0f;
        long chunk = chunkBytes / t.bytes();
        boolean signalled = false;
        for (long off = 0; off < count; off += chunk) {
            long c = Math.min(chunk, count - off);
            long s = send.address() + off * t.bytes(), d = recv.address() + off * t.bytes();
            if (graph) {
                launchInGraph(r, f, path, s, d, c, t, scale);
            } else {
                CudaEvent last = off + c >= count ? signal : null;
                launch(r, f, path, s, d, c, t, scale, last);
                if (last != null) {
                    last.recordedByKernel(r.stream);
                    signalled = true;
                }
            }
        }
        return signalled;
    }

    /** A launch being captured: the graph keeps these arguments; epoch and parity come from the device. */
    private void launchInGraph(Rank r, CUfunction f, P2pConfig.Path path, long send, long recv, long count, DType t,
                               float scale) {
        KernelArgs a = r.graphArgs;
        a.set(0, send);
        a.set(1, recv);
        a.set(ARG_COUNT, count);
        a.setFloat(ARG_COUNT + 4, scale);
        r.device.launch(f, grid(path, count, t), config.threads(), r.stream.nativeHandle(), a, "P2P all-reduce (graph)",
                config.programmaticLaunch());
    }

    private void launch(Rank r, CUfunction f, P2pConfig.Path path, long send, long recv, long count, DType t, float scale,
                        CudaEvent signal) {
        int parity = (int) (r.launches++ & 1);
        long epoch = r.epoch + 1;
        r.epoch += path == P2pConfig.Path.ONE_SHOT ? 1 : 2;
        KernelArgs a = r.args;
        a.set(0, send);
        a.set(1, recv);
        for (int p = 0; p < n; p++) {
            a.set(ARG_STAGE + p, ranks[p].stage[parity].address());
            a.set(ARG_MID + p, ranks[p].mid[parity].address());
        }
        a.set(ARG_COUNT, count);
        a.set(ARG_COUNT + 1, epoch);
        a.setFloat(ARG_COUNT + 4, scale);
        a.set(EARG_DONE, signal == null ? 0 : signal.kernelWordAddress());
        a.set(EARG_DONE + 1, signal == null ? 0 : signal.kernelWordValue());
        r.device.launch(f, grid(path, count, t), config.threads(), r.stream.nativeHandle(), r.args, "P2P all-reduce",
                config.programmaticLaunch());
    }

    /** Blocks for a launch: the same on every rank. */
    int grid(P2pConfig.Path path, long count, DType t) {
        return LaunchShape.grid(path, count, t, n, config.threads(), blockCap);
    }

    private void validate(Rank r, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        String who = "rank " + r.rank + " (" + r.device.name() + ")";
        long sendBytes = call.sendBytes(n);
        long recvBytes = call.recvBytes(n);
        if (send == null || recv == null) {
            throw new CohortException(who + ": " + call.collective().cliName() + " needs send and recv buffers");
        }
        if (send.byteSize() < sendBytes) {
            throw new CohortException(who + ": send buffer of " + send.byteSize() + " bytes is too small for "
                    + call.collective().cliName() + " of " + call.count() + " x " + call.dtype() + " (" + sendBytes + " bytes)");
        }
        if (recv.byteSize() < recvBytes) {
            throw new CohortException(who + ": recv buffer of " + recv.byteSize() + " bytes is too small for "
                    + call.collective().cliName() + " of " + call.count() + " x " + call.dtype() + " (" + recvBytes + " bytes)");
        }
        if (!r.device.canReach(send) || !r.device.canReach(recv)) {
            throw new CohortException(who + ": send or recv buffer is not reachable from the rank's device");
        }
    }

    private CollectiveBackend fallback() {
        CollectiveBackend f = fallback;
        if (f == null) {
            synchronized (this) {
                f = fallback;
                if (f == null) {
                    f = findFallback();
                    fallback = f;
                }
            }
        }
        return f;
    }

    private CollectiveBackend findFallback() {
        for (BackendKind kind : List.of(BackendKind.P2P, BackendKind.NATIVE)) {
            BackendProvider best = ServiceLoader.load(BackendProvider.class).stream()
                    .map(ServiceLoader.Provider::get)
                    .filter(p -> p.kind() == kind && !(p instanceof CudaP2pBackendProvider))
                    .filter(p -> p.unavailableReason(group).isEmpty())
                    .max(Comparator.comparingInt(BackendProvider::priority))
                    .orElse(null);
            if (best != null) {
                LOG.debug("cuda-p2p backend: collectives other than all-reduce go to {}", best.getClass().getName());
                return best.create(group);
            }
        }
        throw new CohortException("cuda-p2p backend runs all-reduce only, and no plan-based P2P or native backend "
                + "is available for the other collectives");
    }

    @Override
    public String describe(CollectiveCall call) {
        if (call.collective() != Collective.ALL_REDUCE) {
            return "cuda-p2p: " + call.collective().cliName() + " via " + fallback().describe(call);
        }
        if (n == 1) {
            return "cuda-p2p, 1 rank: a copy from send to recv (none in place)";
        }
        long bytes = call.count() * call.dtype().bytes();
        P2pConfig.Path path = config.pathFor(bytes);
        long launches = LaunchShape.launches(call.count(), call.dtype(), chunkBytes);
        return "cuda-p2p " + path.name().toLowerCase().replace('_', '-') + " kernel, " + n + " ranks, "
                + launches + " launch(es) of up to " + grid(path, Math.min(call.count(), chunkBytes / call.dtype().bytes()),
                call.dtype()) + " x " + config.threads() + " threads";
    }

    /** Waits for every rank's stream, then frees the staging and flags. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (lanes != null) {
            lanes.close();
        }
        RuntimeException failure = null;
        for (Rank r : ranks) {
            if (r == null) {
                continue;
            }
            try {
                r.stream.synchronize();
            } catch (RuntimeException e) {
                failure = failure == null ? e : failure;
            }
        }
        freeAll();
        CollectiveBackend f = fallback;
        if (f != null) {
            f.close();
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void freeAll() {
        for (Rank r : ranks) {
            if (r == null) {
                continue;
            }
            for (CudaBuffer b : List.of(r.stage[0], r.stage[1], r.mid[0], r.mid[1])) {
                if (b != null) {
                    r.device.free(b);
                }
            }
            if (r.signals != null) {
                r.device.free(r.signals);
            }
            if (r.doneCount != null) {
                r.device.free(r.doneCount);
            }
            for (CudaBuffer b : new CudaBuffer[] {r.graphStage[0], r.graphStage[1], r.graphMid[0], r.graphMid[1],
                    r.graphSignals, r.graphLaunches}) {
                if (b != null) {
                    r.device.free(b);
                }
            }
        }
    }
}
