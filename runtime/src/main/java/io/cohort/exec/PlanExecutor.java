package io.cohort.exec;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import io.cohort.device.host.HostBuffer;
import io.cohort.memory.MemoryPool;
import io.cohort.plan.BufferRef;
import io.cohort.plan.Plan;
import io.cohort.plan.PlanValidator;
import io.cohort.plan.Slot;
import io.cohort.plan.Step;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Runs one {@link Plan} for one element type on a group's streams.
 *
 * <p>At creation the plan is validated ({@link BindingValidator}) and its per-rank resources are taken once:
 * SCRATCH from each rank's pool, STAGING from each rank's pinned staging pool, and one pinned flag word per
 * (rank, tag). Per call, {@link #enqueue} walks rank r's steps, bound to concrete buffers, onto rank r's
 * stream: Copy/Reduce/Scale become stream operations, Signal(tag) becomes {@code writeValue(flags[r][tag],
 * seq)} and Wait(p, tag) becomes {@code waitValue(flags[p][tag], seq)}. The binding of user buffers is
 * cached per rank (the last few distinct sets), so a steady stream of calls on the same tensors allocates
 * nothing.
 *
 * <p>Back-to-back safety comes from the plan: {@link PlanValidator} admits only plans whose ranks touch a
 * peer's memory after waiting on the peer, and end only after every peer that touched their memory is done
 * with it (the planners end every plan with that one round). So once a rank's stream passes a collective,
 * no peer still reads or writes that rank's buffers: the caller may reuse its tensors in stream order, and
 * the next run of the plan cannot overwrite scratch or staging a peer is still reading. The executor adds
 * no round of its own.
 *
 * <p>AVG: plans are built per (collective, count, root, dtype), not per op. Scale steps of a plan run only
 * for AVG; for AVG with a plan that has none, each rank scales its own output after its last step (when,
 * by the rule above, no peer writes it any more). The factor is {@code 1 / ranks}.
 */
public final class PlanExecutor implements AutoCloseable {

    private static final int CACHED_BINDINGS = 4;

    /** One bound program of one rank with the user buffers and op it was bound for. */
    private record Binding(ReduceOp op, DeviceBuffer[] send, DeviceBuffer[] recv, BoundOp[] ops) {
    }

    private final Plan plan;
    private final DType dtype;
    private final int ranks;
    private final List<Device> devices;
    private final List<DeviceStream> streams;
    private final DeviceBuffer[] scratch;
    private final DeviceBuffer[] staging;
    private final DeviceBuffer[] flags;
    private final MemoryPool[] scratchPoolOf;
    private final MemoryPool[] stagingPoolOf;
    private final int[][] userPeers;     // ranks whose SEND/RECV rank r's steps touch (r included)
    private final boolean hasScale;
    private final Binding[][] bindings;
    private final int[] nextBinding;
    private volatile boolean closed;

    /**
     * Validates and prepares {@code plan}.
     *
     * @param devices       device of each rank
     * @param streams       stream of each rank (collectives of the group run on these)
     * @param scratchPools  pool of each rank for SCRATCH
     * @param stagingPools  pinned pool of each rank for STAGING (asked only when the plan has staging)
     * @param topology      topology the plan must respect (null: device reachability only)
     */
    public PlanExecutor(Plan plan, DType dtype, List<? extends Device> devices, List<? extends DeviceStream> streams,
                        List<? extends MemoryPool> scratchPools, IntFunction<MemoryPool> stagingPools, Topology topology) {
        this.plan = plan;
        this.dtype = dtype;
        this.ranks = plan.ranks();
        this.devices = List.copyOf(devices);
        this.streams = List.copyOf(streams);
        BindingValidator.validate(plan, devices, topology);
        this.userPeers = userBufferRanks(plan);
        this.hasScale = plan.steps().stream().flatMap(List::stream).anyMatch(s -> s instanceof Step.Scale);
        this.bindings = new Binding[ranks][CACHED_BINDINGS];
        this.nextBinding = new int[ranks];
        this.scratch = new DeviceBuffer[ranks];
        this.staging = new DeviceBuffer[ranks];
        this.flags = new DeviceBuffer[ranks];
        this.scratchPoolOf = new MemoryPool[ranks];
        this.stagingPoolOf = new MemoryPool[ranks];
        try {
            for (int r = 0; r < ranks; r++) {
                if (plan.scratchElements() > 0) {
                    scratchPoolOf[r] = scratchPools.get(r);
                    scratch[r] = take(scratchPoolOf[r], plan.scratchElements(), r, "scratch");
                }
                if (plan.stagingElements() > 0) {
                    stagingPoolOf[r] = stagingPools.apply(r);
                    staging[r] = take(stagingPoolOf[r], plan.stagingElements(), r, "staging");
                }
                flags[r] = devices.get(r).allocatePinnedHost(Math.max(1, plan.maxSignals()) * 8L);
                if (flags[r].isHostAccessible()) {
                    flags[r].segment().fill((byte) 0);
                }
                if (flags[r] instanceof HostBuffer hb) {
                    hb.label("flags of rank " + r + " for " + describe() + " (word t = tag t)");
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private DeviceBuffer take(MemoryPool pool, long elements, int rank, String what) {
        long bytes = elements * dtype.bytes();
        try {
            return pool.allocate(bytes);
        } catch (CohortException e) {
            throw new CohortException("rank " + rank + " (" + devices.get(rank).name() + "): pool too small for the "
                    + what + " of " + describe() + ": it needs " + bytes + " bytes: " + e.getMessage(), e);
        }
    }

    public Plan plan() {
        return plan;
    }

    public DType dtype() {
        return dtype;
    }

    /** Ranks whose user buffers rank {@code rank}'s steps touch (including itself), ascending. */
    public int[] userBufferRanks(int rank) {
        return userPeers[rank].clone();
    }

    /** Number of ranks in {@link #userBufferRanks}, without allocating. */
    public int userBufferRankCount(int rank) {
        return userPeers[rank].length;
    }

    /** The {@code i}-th rank of {@link #userBufferRanks}, without allocating. */
    public int userBufferRank(int rank, int i) {
        return userPeers[rank][i];
    }

    /** Whether rank {@code rank}'s steps touch another rank's SEND or RECV (P2P plans). */
    public boolean touchesPeerUserBuffers(int rank) {
        return userPeers[rank].length > 1 || (userPeers[rank].length == 1 && userPeers[rank][0] != rank);
    }

    /**
     * Enqueues rank {@code rank}'s part of collective {@code seq} on its stream. {@code send[p]}/{@code recv[p]}
     * must be set for every p of {@link #userBufferRanks(rank)}, except where the collective does not use them
     * ({@link io.cohort.core.Collective#usesSend}, {@link io.cohort.core.Collective#usesRecv}: null allowed);
     * other entries are ignored.
     */
    public void enqueue(int rank, long seq, ReduceOp op, DeviceBuffer[] send, DeviceBuffer[] recv) {
        if (closed) {
            throw new CohortException("rank " + rank + ": executor of " + describe() + " is closed");
        }
        if (plan.count() == 0) {
            return; // nothing moves, so nothing to order
        }
        BoundOp[] ops = binding(rank, op, send, recv);
        DeviceStream stream = streams.get(rank);
        for (BoundOp bound : ops) {
            switch (bound) {
                case BoundOp.Copy c -> stream.copy(c.src(), c.srcOffset(), c.dst(), c.dstOffset(), c.bytes());
                case BoundOp.Combine c -> stream.reduce(dtype, op, c.a(), c.aOffset(), c.b(), c.bOffset(),
                        c.dst(), c.dstOffset(), c.count());
                case BoundOp.Scale s -> stream.scale(dtype, s.buf(), s.offset(), s.count(), 1.0 / ranks);
                case BoundOp.Signal s -> stream.writeValue(s.flags(), s.offset(), seq);
                case BoundOp.Wait w -> stream.waitValue(w.flags(), w.offset(), seq);
            }
        }
    }

    private BoundOp[] binding(int rank, ReduceOp op, DeviceBuffer[] send, DeviceBuffer[] recv) {
        Binding[] cache = bindings[rank];
        int[] peers = userPeers[rank];
        synchronized (cache) {
            for (Binding b : cache) {
                if (b != null && b.op() == op && sameBuffers(b, peers, send, recv)) {
                    return b.ops();
                }
            }
            DeviceBuffer[] sendKey = new DeviceBuffer[ranks];
            DeviceBuffer[] recvKey = new DeviceBuffer[ranks];
            for (int p : peers) {
                sendKey[p] = send[p];
                recvKey[p] = recv[p];
            }
            Binding b = new Binding(op, sendKey, recvKey, bind(rank, op, sendKey, recvKey));
            cache[nextBinding[rank]] = b;
            nextBinding[rank] = (nextBinding[rank] + 1) % CACHED_BINDINGS;
            return b.ops();
        }
    }

    private static boolean sameBuffers(Binding b, int[] peers, DeviceBuffer[] send, DeviceBuffer[] recv) {
        for (int p : peers) {
            if (b.send()[p] != send[p] || b.recv()[p] != recv[p]) {
                return false;
            }
        }
        return true;
    }

    private BoundOp[] bind(int rank, ReduceOp op, DeviceBuffer[] send, DeviceBuffer[] recv) {
        Device self = devices.get(rank);
        for (int p : userPeers[rank]) {
            checkUser(rank, p, "send", send[p], PlanValidator.elements(plan, p, Slot.SEND) * dtype.bytes(), self);
            checkUser(rank, p, "recv", recv[p], PlanValidator.elements(plan, p, Slot.RECV) * dtype.bytes(), self);
        }
        List<BoundOp> ops = new ArrayList<>();
        int b = dtype.bytes();
        for (Step step : plan.stepsOf(rank)) {
            switch (step) {
                case Step.Copy(BufferRef src, BufferRef dst, long count) -> {
                    if (count > 0) {
                        ops.add(new BoundOp.Copy(buffer(src, send, recv), src.offset() * b,
                                buffer(dst, send, recv), dst.offset() * b, count * b));
                    }
                }
                case Step.Reduce(BufferRef x, BufferRef y, BufferRef dst, long count) -> {
                    if (count > 0) {
                        ops.add(new BoundOp.Combine(buffer(x, send, recv), x.offset() * b, buffer(y, send, recv),
                                y.offset() * b, buffer(dst, send, recv), dst.offset() * b, count));
                    }
                }
                case Step.Scale(BufferRef buf, long count) -> {
                    if (op == ReduceOp.AVG && count > 0) {
                        ops.add(new BoundOp.Scale(buffer(buf, send, recv), buf.offset() * b, count));
                    }
                }
                case Step.Signal(int tag) -> ops.add(new BoundOp.Signal(flags[rank], tag * 8L));
                case Step.Wait(int p, int tag) -> ops.add(new BoundOp.Wait(flags[p], tag * 8L));
            }
        }
        if (op == ReduceOp.AVG && !hasScale) {
            long outCount = switch (plan.collective()) {
                case ALL_REDUCE, REDUCE_SCATTER -> plan.count();
                case REDUCE -> rank == plan.root() ? plan.count() : 0;
                case BROADCAST, ALL_GATHER -> 0;
            };
            if (outCount > 0) {
                ops.add(new BoundOp.Scale(recv[rank], 0, outCount));
            }
        }
        return ops.toArray(BoundOp[]::new);
    }

    private void checkUser(int rank, int owner, String what, DeviceBuffer buffer, long bytes, Device self) {
        String whose = owner == rank ? "" : " of rank " + owner;
        if (buffer == null && bytes == 0) {
            return; // a non-root's recv in REDUCE, send in BROADCAST: never touched, may be absent
        }
        if (buffer == null) {
            throw new CohortException("rank " + rank + ": " + describe() + " needs the " + what + " buffer" + whose
                    + ", none given");
        }
        if (buffer.byteSize() < bytes) {
            throw new CohortException("rank " + rank + ": " + what + " buffer" + whose + " holds " + buffer.byteSize()
                    + " bytes, " + describe() + " needs " + bytes);
        }
        if (!self.canReach(buffer)) {
            throw new CohortException("rank " + rank + " (" + self.name() + ") cannot reach the " + what + " buffer"
                    + whose + " on " + buffer.device().name());
        }
    }

    private DeviceBuffer buffer(BufferRef ref, DeviceBuffer[] send, DeviceBuffer[] recv) {
        return switch (ref.slot()) {
            case SEND -> send[ref.rank()];
            case RECV -> recv[ref.rank()];
            case SCRATCH -> scratch[ref.rank()];
            case STAGING -> staging[ref.rank()];
        };
    }

    /** "RING ALL_REDUCE of 1009 x F32 over 4 ranks". */
    public String describe() {
        return plan.algorithm() + " " + plan.collective() + " of " + plan.count() + " x " + dtype + " over " + ranks
                + " ranks";
    }

    /** Returns scratch, staging and flags. Callers make sure no enqueued run of the plan is still in flight. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int r = 0; r < ranks; r++) {
            if (scratch[r] != null) {
                scratchPoolOf[r].release(scratch[r]);
                scratch[r] = null;
            }
            if (staging[r] != null) {
                stagingPoolOf[r].release(staging[r]);
                staging[r] = null;
            }
            if (flags[r] != null) {
                devices.get(r).free(flags[r]);
                flags[r] = null;
            }
        }
    }

    /** Per rank, the ranks whose SEND/RECV its steps touch (itself included), ascending. */
    private static int[][] userBufferRanks(Plan plan) {
        int n = plan.ranks();
        int[][] ranks = new int[n][];
        for (int r = 0; r < n; r++) {
            BitSet user = new BitSet(n);
            user.set(r);
            for (Step step : plan.stepsOf(r)) {
                for (BufferRef ref : step.buffers()) {
                    if (ref.slot() == Slot.SEND || ref.slot() == Slot.RECV) {
                        user.set(ref.rank());
                    }
                }
            }
            ranks[r] = user.stream().toArray();
        }
        return ranks;
    }

    @Override
    public String toString() {
        return "PlanExecutor[" + describe() + "]";
    }

}
