package io.cohort.transport;

import io.cohort.core.Collective;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One process's membership in a group of processes that run collectives on host memory through Aeron
 * ({@code aeron:ipc} on one host, UDP across hosts). Each process is one rank; ranks form a ring (rank r
 * sends to r+1, hears from r-1), over which all-reduce runs as ring reduce-scatter + all-gather, broadcast and
 * reduce as pipelined chains. Buffers follow NCCL's conventions ({@link Collective}): count is per rank.
 *
 * <p>Every rank must make the same calls in the same order (frames carry the group's sequence number and a
 * signature of the call, so a mismatch fails rather than mixing data). Calls block the caller until this
 * rank's part is done; they allocate nothing per call except scratch growth for reduce-scatter. A failure
 * (peer died, timeout, mismatch) breaks the group: later calls throw at once; close it and join a new one.
 * One thread at a time.
 */
public final class ProcessGroup implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ProcessGroup.class);
    private static final int JOIN_SIGNATURE = 0x4a4f494e;

    private final TransportConfig config;
    private final int rank;
    private final int size;
    private final AeronTransport transport;
    private final Link link;
    private final RingSchedule ring;
    private final ChainSchedule chain;
    private long seq;
    private RuntimeException broken;
    private Arena scratchArena;
    private MemorySegment scratch = MemorySegment.NULL;
    private boolean closed;

    private ProcessGroup(TransportConfig config, AeronTransport transport, Link link) {
        this.config = config;
        this.rank = config.rank();
        this.size = config.size();
        this.transport = transport;
        this.link = link;
        this.ring = new RingSchedule(size, rank);
        this.chain = new ChainSchedule(size, rank);
    }

    /**
     * Joins the group {@code config} describes: starts or attaches to the driver, connects to both neighbours
     * and exchanges process ids (so a dead same-host peer is named at once). Returns when every rank has joined.
     */
    public static ProcessGroup join(TransportConfig config) {
        if (config.size() == 1) {
            return new ProcessGroup(config, null, null);
        }
        AeronTransport transport = AeronTransport.start(config);
        Link link = null;
        try {
            link = new Link(transport, Frame.groupId(config.group()));
            link.connect();
            ProcessGroup group = new ProcessGroup(config, transport, link);
            group.exchangeIdentities();
            LOG.info("rank {} joined group '{}' of {} processes over {} ({})", config.rank(), config.group(),
                    config.size(), config.channel().name().toLowerCase(java.util.Locale.ROOT), transport.directory());
            return group;
        } catch (RuntimeException e) {
            if (link != null) {
                link.close();
            }
            transport.close();
            throw e;
        }
    }

    /** All-gather of (pid, host id) as collective 0; afterwards same-host peers are watched by pid. */
    private void exchangeIdentities() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ids = arena.allocate(16L * size, 64);
            ids.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 2L * rank, ProcessHandle.current().pid());
            ids.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 2L * rank + 1, PeerMonitor.hostId());
            // 16 bytes per rank, moved as 4 f32 "elements": all-gather only copies
            ring.prepare(ids, DType.F32, ReduceOp.SUM, 4L * size, 4, false, true, 1.0, link.maxPieceBytes());
            link.run(ring, 0, JOIN_SIGNATURE, "join");
            long[] pids = new long[size];
            long[] hosts = new long[size];
            for (int r = 0; r < size; r++) {
                pids[r] = ids.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 2L * r);
                hosts[r] = ids.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 2L * r + 1);
            }
            link.monitor(new PeerMonitor(rank, pids, hosts));
        }
    }

    public int rank() {
        return rank;
    }

    public int size() {
        return size;
    }

    public String name() {
        return config.group();
    }

    public TransportConfig config() {
        return config;
    }

    /** Sequence number of the last collective started (the join is 0). */
    public long sequence() {
        return seq;
    }

    /** Largest payload of one frame between two ranks (pieces of bigger buffers travel in several frames). */
    public int maxPieceBytes() {
        return link == null ? Integer.MAX_VALUE : link.maxPieceBytes();
    }

    /** In-place all-reduce of {@code count} elements of {@code buf}. */
    public void allReduce(MemorySegment buf, DType type, ReduceOp op, long count) {
        allReduce(buf, buf, type, op, count);
    }

    /** recv = op over every rank's send ({@code count} elements each); send may be recv. */
    public synchronized void allReduce(MemorySegment send, MemorySegment recv, DType type, ReduceOp op, long count) {
        long seq = begin(Collective.ALL_REDUCE);
        require(send, count, type, "send");
        require(recv, count, type, "recv");
        copyIfApart(send, recv, count * type.bytes());
        if (size == 1 || count == 0) {
            return;
        }
        double scale = op == ReduceOp.AVG ? 1.0 / size : 1.0;
        ring.prepare(recv, type, op, count, 0, true, true, scale, link.maxPieceBytes());
        drive(ring, seq, signature(Collective.ALL_REDUCE, type, op, count, 0), "all-reduce");
    }

    /** recv (count) = op over block {@code rank} of every rank's send (count * size); send is not modified. */
    public synchronized void reduceScatter(MemorySegment send, MemorySegment recv, DType type, ReduceOp op,
                                           long count) {
        long seq = begin(Collective.REDUCE_SCATTER);
        require(send, count * size, type, "send");
        require(recv, count, type, "recv");
        long blockBytes = count * type.bytes();
        if (size == 1 || count == 0) {
            copyIfApart(send, recv, blockBytes);
            return;
        }
        MemorySegment work = scratch(blockBytes * size);
        MemorySegment.copy(send, 0, work, 0, blockBytes * size);
        double scale = op == ReduceOp.AVG ? 1.0 / size : 1.0;
        ring.prepare(work, type, op, count * size, count, true, false, scale, link.maxPieceBytes());
        drive(ring, seq, signature(Collective.REDUCE_SCATTER, type, op, count, 0), "reduce-scatter");
        MemorySegment.copy(work, rank * blockBytes, recv, 0, blockBytes);
    }

    /** recv (count * size) = every rank's send (count), in rank order. */
    public synchronized void allGather(MemorySegment send, MemorySegment recv, DType type, long count) {
        long seq = begin(Collective.ALL_GATHER);
        require(send, count, type, "send");
        require(recv, count * size, type, "recv");
        long blockBytes = count * type.bytes();
        if (!(send.address() == recv.address() + rank * blockBytes && send.scope() == recv.scope())) {
            MemorySegment.copy(send, 0, recv, rank * blockBytes, blockBytes);
        }
        if (size == 1 || count == 0) {
            return;
        }
        ring.prepare(recv, type, ReduceOp.SUM, count * size, count, false, true, 1.0, link.maxPieceBytes());
        drive(ring, seq, signature(Collective.ALL_GATHER, type, ReduceOp.SUM, count, 0), "all-gather");
    }

    /** {@code buf} of {@code root} (count elements) is copied into {@code buf} of every rank. */
    public synchronized void broadcast(MemorySegment buf, DType type, long count, int root) {
        long seq = begin(Collective.BROADCAST);
        requireRoot(root);
        require(buf, count, type, "buf");
        if (size == 1 || count == 0) {
            return;
        }
        chain.broadcast(buf, type, count, root, link.maxPieceBytes());
        drive(chain, seq, signature(Collective.BROADCAST, type, ReduceOp.SUM, count, root), "broadcast");
    }

    /** recv of {@code root} = op over every rank's send; recv of other ranks is not written. */
    public synchronized void reduce(MemorySegment send, MemorySegment recv, DType type, ReduceOp op, long count,
                                    int root) {
        long seq = begin(Collective.REDUCE);
        requireRoot(root);
        require(send, count, type, "send");
        if (rank == root) {
            require(recv, count, type, "recv");
        }
        if (size == 1 || count == 0) {
            if (rank == root) {
                copyIfApart(send, recv, count * type.bytes());
            }
            return;
        }
        double scale = op == ReduceOp.AVG ? 1.0 / size : 1.0;
        chain.reduce(send, recv, type, op, count, root, scale, link.maxPieceBytes());
        drive(chain, seq, signature(Collective.REDUCE, type, op, count, root), "reduce");
    }

    /** Returns once every rank has entered the barrier. */
    public synchronized void barrier() {
        long seq = begin(null);
        if (size == 1) {
            return;
        }
        ring.prepare(MemorySegment.NULL, DType.F32, ReduceOp.SUM, 0, 0, false, true, 1.0, link.maxPieceBytes());
        drive(ring, seq, 0x42415252, "barrier");
    }

    /** Frames from other groups, other sessions, or earlier collectives that were dropped (diagnostics). */
    public long droppedFrames() {
        return link == null ? 0 : link.droppedForeign() + link.droppedStale();
    }

    /** Frames dropped because their sender is not the source the group announced for the left neighbour. */
    public long droppedUnannounced() {
        return link == null ? 0 : link.droppedUnannounced();
    }

    /** Test hook: the rank's link, to inject stray frames. */
    Link link() {
        return link;
    }

    /** Test hook: the rank's transport. */
    AeronTransport transportForTest() {
        return transport;
    }

    private long begin(Collective what) {
        if (closed) {
            throw new CohortException("rank " + rank + ": group '" + config.group() + "' is closed");
        }
        if (broken != null) {
            throw new CohortException("rank " + rank + ": group '" + config.group() + "' is broken since an earlier "
                    + "failure (" + broken.getMessage() + "); close it and join a new group", broken);
        }
        return ++seq;
    }

    private void drive(Schedule schedule, long seq, int signature, String what) {
        try {
            link.run(schedule, seq, signature, what);
        } catch (RuntimeException e) {
            broken = e;
            throw e;
        }
    }

    private int signature(Collective c, DType type, ReduceOp op, long count, int root) {
        return Frame.signature(c.ordinal(), type.ordinal(), op.ordinal(), count, root);
    }

    private void requireRoot(int root) {
        if (root < 0 || root >= size) {
            throw new CohortException("rank " + rank + ": root " + root + " is outside 0.." + (size - 1));
        }
    }

    private void require(MemorySegment seg, long count, DType type, String name) {
        if (count < 0) {
            throw new CohortException("rank " + rank + ": negative count " + count);
        }
        long bytes = count * type.bytes();
        if (seg.byteSize() < bytes) {
            throw new CohortException("rank " + rank + ": " + name + " holds " + seg.byteSize() + " bytes, "
                    + count + " x " + type + " need " + bytes);
        }
    }

    private static void copyIfApart(MemorySegment send, MemorySegment recv, long bytes) {
        if (bytes > 0 && !(send.address() == recv.address() && send.scope() == recv.scope())) {
            MemorySegment.copy(send, 0, recv, 0, bytes);
        }
    }

    private MemorySegment scratch(long bytes) {
        if (scratch.byteSize() < bytes) {
            if (scratchArena != null) {
                scratchArena.close();
            }
            scratchArena = Arena.ofShared();
            scratch = scratchArena.allocate(bytes, 64);
        }
        return scratch;
    }

    /**
     * Leaves the group. After a clean run the ranks first meet in a barrier, so the rank that hosts the shared
     * driver closes it (and deletes its directory) only once every rank is done with it.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        if (link != null && broken == null) {
            try {
                barrier();
            } catch (RuntimeException e) {
                LOG.warn("rank {} of group '{}': closing without the final barrier: {}", rank, config.group(),
                        e.getMessage());
            }
        }
        closed = true;
        if (link != null) {
            link.close();
        }
        if (transport != null) {
            transport.close();
        }
        if (scratchArena != null) {
            scratchArena.close();
        }
    }
}
