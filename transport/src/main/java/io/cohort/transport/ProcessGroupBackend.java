package io.cohort.transport;

import io.cohort.device.host.HostKernels;

import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.RankContext;
import io.cohort.core.Collective;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.IdlePolicy;
import io.cohort.core.ReduceOp;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NATIVE backend for a group that spans processes: each process holds L consecutive ranks of the group
 * (process p: ranks p*L .. p*L+L-1, on any devices) and is one rank of a {@link ProcessGroup}.
 *
 * <p>Per collective, each local rank's stream stages its send buffer into pinned host memory and raises its
 * ready flag ({@code writeValue(flags, 0, seq)}), then waits for its done flag ({@code waitValue(flags, 8, seq)})
 * and copies the result back. One transport thread per backend waits for every local rank's ready flag,
 * reduces (or gathers) the local ranks' data on the host, runs the cross-process collective, and raises the
 * done flags. So {@link #enqueue} only enqueues, ranks may enqueue from their own threads in any order, and
 * the device work stays stream-ordered.
 *
 * <p>When the transport fails (a peer process died, a timeout), the done flags are not raised: the ranks'
 * streams fail on their wait timeout, and every later {@link #enqueue} throws the transport's error naming
 * the rank at fault.
 */
public final class ProcessGroupBackend implements CollectiveBackend {

    private static final Logger LOG = LoggerFactory.getLogger(ProcessGroupBackend.class);
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();
    private static final long READY = 0;
    private static final long DONE = 8;

    private final ProcessGroup processes;
    private final boolean ownsGroup;
    private final int localRanks;
    private final int firstRank;
    private final int ranks;
    private final RankContext[] local;
    private final DeviceBuffer[] flags;
    private final Staging[] stage;
    private final Staging result;
    /** Host-only scratch of the transport thread: plain memory, never pinned (see {@link HostScratch}). */
    private final HostScratch scratch = new HostScratch();
    private final Map<Long, Job> pending = new HashMap<>();
    private final LinkedBlockingQueue<Job> jobs = new LinkedBlockingQueue<>();
    private final Thread worker;
    private final long waitTimeoutNs;
    /** How the transport thread waits for the local streams ({@code cohort.transport.idle}). */
    private final IdlePolicy stageIdle;
    private volatile RuntimeException failure;
    private volatile boolean closing;

    /**
     * A backend over {@code processes} for the local ranks {@code local} (consecutive global ranks, the same count in
     * every process). With {@code ownsGroup} the process group is closed with the backend.
     */
    public ProcessGroupBackend(ProcessGroup processes, List<RankContext> local, boolean ownsGroup) {
        if (local.isEmpty()) {
            throw new CohortException("process " + processes.rank() + ": a cross-process group needs at least one local rank");
        }
        this.processes = processes;
        this.ownsGroup = ownsGroup;
        this.localRanks = local.size();
        this.ranks = localRanks * processes.size();
        this.local = local.stream().sorted((a, b) -> Integer.compare(a.rank(), b.rank())).toArray(RankContext[]::new);
        this.firstRank = processes.rank() * localRanks;
        for (int i = 0; i < localRanks; i++) {
            if (this.local[i].rank() != firstRank + i) {
                throw new CohortException("process " + processes.rank() + " of " + processes.size() + " holds ranks "
                        + local.stream().map(RankContext::rank).toList() + ": expected the consecutive ranks " + firstRank
                        + ".." + (firstRank + localRanks - 1) + " (L ranks per process, process p holding p*L..p*L+L-1)");
            }
        }
        this.flags = new DeviceBuffer[localRanks];
        this.stage = new Staging[localRanks];
        for (int i = 0; i < localRanks; i++) {
            flags[i] = this.local[i].device().allocatePinnedHost(16);
            flags[i].segment().fill((byte) 0);
            stage[i] = new Staging(this.local[i]);
        }
        this.result = new Staging(this.local[0]);
        this.waitTimeoutNs = processes.config().stageTimeout().toNanos();
        this.stageIdle = IdleStrategies.of(processes.config().idle());
        this.worker = Thread.ofPlatform().daemon().name("cohort-transport-" + processes.name() + "-p" + processes.rank())
                .start(this::work);
    }

    @Override
    public BackendKind kind() {
        return BackendKind.NATIVE;
    }

    @Override
    public int ranks() {
        return ranks;
    }

    /** The process group underneath. */
    public ProcessGroup processGroup() {
        return processes;
    }

    /** The transport's failure, or null while healthy. */
    public RuntimeException failure() {
        return failure;
    }

    @Override
    public void enqueue(int rank, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        RuntimeException f = failure;
        if (f != null) {
            throw new CohortException("rank " + rank + ": the cross-process group '" + processes.name()
                    + "' failed earlier: " + f.getMessage(), f);
        }
        int i = rank - firstRank;
        if (i < 0 || i >= localRanks) {
            throw new CohortException("rank " + rank + " is not held by process " + processes.rank() + " (it holds ranks "
                    + firstRank + ".." + (firstRank + localRanks - 1) + ")");
        }
        if (call.collective().rooted() && call.root() >= ranks) {
            throw new CohortException("rank " + rank + ": root " + call.root() + " is outside 0.." + (ranks - 1));
        }
        long sendBytes = call.sendBytes(ranks);
        long recvBytes = call.recvBytes(ranks);
        boolean stages = call.collective() != Collective.BROADCAST || rank == call.root();
        boolean receives = call.collective() != Collective.REDUCE || rank == call.root();
        if (stages && send.byteSize() < sendBytes) {
            throw new CohortException("rank " + rank + ": send holds " + send.byteSize() + " bytes, " + call + " needs "
                    + sendBytes);
        }
        if (receives && recv.byteSize() < recvBytes) {
            throw new CohortException("rank " + rank + ": recv holds " + recv.byteSize() + " bytes, " + call + " needs "
                    + recvBytes);
        }
        Job job;
        MemorySegment staged;
        MemorySegment out;
        synchronized (this) {
            job = pending.computeIfAbsent(seq, s -> new Job(s, call, localRanks));
            if (!job.call.equals(call)) {
                throw new CohortException("rank " + rank + " enqueued " + call + " as collective #" + seq
                        + " but another local rank enqueued " + job.call);
            }
            staged = stages ? stage[i].ensure(sendBytes) : MemorySegment.NULL;
            if (job.result == null) {
                // one rank per process (one GPU each, the usual case): all-reduce in place in its staging buffer;
                // its stream copies the answer out before it stages the next call, so nothing else touches it
                job.result = localRanks == 1 && call.collective() == Collective.ALL_REDUCE
                        ? staged : result.ensure(Math.max(recvBytes, sendBytes));
            }
            job.staged[i] = staged;
            out = job.result;
        }
        DeviceStream stream = local[i].stream();
        if (stages && sendBytes > 0) {
            stream.copyToHost(send, 0, staged.asSlice(0, sendBytes));
        }
        stream.writeValue(flags[i], READY, seq);
        stream.waitValue(flags[i], DONE, seq);
        if (receives && recvBytes > 0) {
            // reduce-scatter leaves local rank i's block at i * recvBytes; the others share one answer
            long at = call.collective() == Collective.REDUCE_SCATTER ? i * recvBytes : 0;
            stream.copyFromHost(out.asSlice(at, recvBytes), recv, 0);
        }
        synchronized (this) {
            if (++job.arrived == localRanks) {
                pending.remove(seq);
                jobs.add(job);
            }
        }
    }

    @Override
    public String describe(CollectiveCall call) {
        String channel = processes.config().channel() == TransportConfig.Channel.IPC ? "aeron:ipc" : "aeron:udp";
        String cross = switch (call.collective()) {
            case ALL_REDUCE -> "ring reduce-scatter + all-gather";
            case REDUCE_SCATTER -> "ring reduce-scatter";
            case ALL_GATHER -> "ring all-gather";
            case BROADCAST -> "pipelined chain broadcast";
            case REDUCE -> "pipelined chain reduce";
        };
        return "native: " + localRanks + " local rank(s) staged to host memory, " + cross + " over " + processes.size()
                + " processes through " + channel + " (frames of " + processes.maxPieceBytes() + " bytes)";
    }

    private void work() {
        while (!closing) {
            Job job;
            try {
                job = jobs.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (job == null || failure != null) {
                continue;
            }
            try {
                awaitReady(job);
                run(job);
                for (int i = 0; i < localRanks; i++) {
                    WORD.setRelease(flags[i].segment(), DONE, job.seq);
                }
            } catch (RuntimeException e) {
                failure = e;
                LOG.error("process {} of group '{}': collective #{} ({}) failed: {}", processes.rank(), processes.name(),
                        job.seq, job.call, e.getMessage());
            }
        }
    }

    private void awaitReady(Job job) {
        long deadline = System.nanoTime() + waitTimeoutNs;
        for (int i = 0; i < localRanks; i++) {
            int idle = 0;
            while ((long) WORD.getAcquire(flags[i].segment(), READY) < job.seq) {
                if (closing) {
                    throw new CohortException("backend closed while collective #" + job.seq + " was pending");
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new CohortException("rank " + (firstRank + i) + " did not stage collective #" + job.seq + " ("
                            + job.call + ") within cohort.transport.stage-timeout = "
                            + TimeUnit.NANOSECONDS.toMillis(waitTimeoutNs) + " ms (its stream is stuck or failed)");
                }
                stageIdle.idle(idle++); // the stream writes READY into memory: polled, spinning then yielding
            }
        }
    }

    /** Host part of one collective: combine the local ranks, run it across processes, leave the answer in result. */
    private void run(Job job) {
        CollectiveCall call = job.call;
        DType type = call.dtype();
        ReduceOp op = call.op();
        long count = call.count();
        long elem = type.bytes();
        MemorySegment out = job.result;
        switch (call.collective()) {
            case ALL_REDUCE -> {
                combineLocal(job, out, count * elem, type, op);
                processes.allReduce(out, type, op.pairwise(), count);
                finishAverage(out, type, op, count);
            }
            case REDUCE_SCATTER -> {
                // process p keeps blocks p*L .. p*L+L-1: its local ranks' blocks, in order
                combineLocal(job, out, count * ranks * elem, type, op);
                MemorySegment mine = scratch.ensure(count * localRanks * elem);
                processes.reduceScatter(out, mine, type, op.pairwise(), count * localRanks);
                finishAverage(mine, type, op, count * localRanks);
                MemorySegment.copy(mine, 0, out, 0, count * localRanks * elem);
            }
            case ALL_GATHER -> {
                long block = count * elem;
                for (int i = 0; i < localRanks; i++) {
                    MemorySegment.copy(job.staged[i], 0, out, (firstRank + i) * block, block);
                }
                processes.allGather(out.asSlice(firstRank * block, block * localRanks), out, type, count * localRanks);
            }
            case BROADCAST -> {
                int rootProcess = call.root() / localRanks;
                if (rootProcess == processes.rank()) {
                    MemorySegment.copy(job.staged[call.root() - firstRank], 0, out, 0, count * elem);
                }
                processes.broadcast(out, type, count, rootProcess);
            }
            case REDUCE -> {
                int rootProcess = call.root() / localRanks;
                combineLocal(job, out, count * elem, type, op);
                processes.reduce(out, out, type, op.pairwise(), count, rootProcess);
                if (rootProcess == processes.rank()) {
                    finishAverage(out, type, op, count);
                }
            }
        }
    }

    private void combineLocal(Job job, MemorySegment out, long bytes, DType type, ReduceOp op) {
        if (job.staged[0] != out) {
            MemorySegment.copy(job.staged[0], 0, out, 0, bytes);
        }
        for (int i = 1; i < localRanks; i++) {
            HostKernels.reduce(type, op, out, 0, job.staged[i], 0, out, 0, bytes / type.bytes());
        }
    }

    private void finishAverage(MemorySegment buf, DType type, ReduceOp op, long count) {
        if (op == ReduceOp.AVG) {
            HostKernels.scale(type, buf, 0, count, 1f / ranks);
        }
    }

    @Override
    public void close() {
        closing = true;
        worker.interrupt();
        try {
            worker.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (int i = 0; i < localRanks; i++) {
            stage[i].release();
            local[i].device().free(flags[i]);
        }
        result.release();
        scratch.close();
        if (ownsGroup) {
            processes.close();
        }
    }

    /** One collective: what every local rank staged, and where the answer goes. */
    private static final class Job {
        final long seq;
        final CollectiveCall call;
        final MemorySegment[] staged;
        MemorySegment result;
        int arrived;

        Job(long seq, CollectiveCall call, int localRanks) {
            this.seq = seq;
            this.call = call;
            this.staged = new MemorySegment[localRanks];
        }
    }

    /**
     * Memory only the CPU touches. It must not come from {@code Device.allocatePinnedHost}: the transport thread
     * would then call the driver (cuMemHostAlloc) while the ranks' streams wait on its DONE flag, and the driver
     * may serialise that allocation behind a blocking copy on the same device, which waits for those streams:
     * a deadlock seen on the GPU machine (two processes on one H100, reduce-scatter).
     */
    private static final class HostScratch implements AutoCloseable {
        private final java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared();
        private MemorySegment current = MemorySegment.NULL;

        MemorySegment ensure(long bytes) {
            if (current.byteSize() < bytes) {
                current = arena.allocate(Math.max(bytes, Math.max(4096, current.byteSize() * 2)), 256);
            }
            return current;
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    /**
     * Pinned host memory of one device that only grows. Buffers it outgrows are kept until close: a stream may
     * still be copying from one.
     */
    private static final class Staging {
        private final RankContext owner;
        private final List<DeviceBuffer> buffers = new ArrayList<>();
        private DeviceBuffer current;

        Staging(RankContext owner) {
            this.owner = owner;
        }

        MemorySegment ensure(long bytes) {
            if (current == null || current.byteSize() < bytes) {
                long size = Math.max(bytes, current == null ? 4096 : current.byteSize() * 2);
                current = owner.device().allocatePinnedHost(size);
                buffers.add(current);
            }
            return current.segment();
        }

        void release() {
            for (DeviceBuffer b : buffers) {
                owner.device().free(b);
            }
            buffers.clear();
        }
    }
}
