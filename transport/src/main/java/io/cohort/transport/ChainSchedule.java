package io.cohort.transport;

import io.cohort.device.host.HostKernels;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;

/**
 * Broadcast and reduce as a pipelined chain along the ring. Broadcast: root, root+1, ..., root-1, each rank
 * storing every piece and passing it on. Reduce: root+1, ..., root, each rank combining its own piece into
 * the one passing through. A middle rank writes its forward straight into the claimed frame; when the
 * next link pushes back, the incoming piece stays in the log until it can go (a chain has no cycle, so
 * this cannot deadlock).
 */
final class ChainSchedule implements Schedule {

    private final int n;
    private final int rank;

    private boolean reduce;
    private MemorySegment send;
    private MemorySegment recv;
    private DType type;
    private ReduceOp op;
    private long bytes;
    private int pieceBytes;
    private int pieces;
    private boolean first;
    private boolean last;
    private double finalScale;

    private int sent;
    private int received;

    ChainSchedule(int n, int rank) {
        this.n = n;
        this.rank = rank;
    }

    /** Broadcast of {@code buf} (count elements) from {@code root}: in place on every rank. */
    ChainSchedule broadcast(MemorySegment buf, DType type, long count, int root, int maxPieceBytes) {
        return prepare(false, buf, buf, type, ReduceOp.SUM, count, root, 1.0, maxPieceBytes);
    }

    /** Reduce of every rank's {@code send} into {@code recv} of {@code root} (recv untouched elsewhere). */
    ChainSchedule reduce(MemorySegment send, MemorySegment recv, DType type, ReduceOp op, long count, int root,
                         double finalScale, int maxPieceBytes) {
        return prepare(true, send, recv, type, op, count, root, finalScale, maxPieceBytes);
    }

    private ChainSchedule prepare(boolean reduce, MemorySegment send, MemorySegment recv, DType type, ReduceOp op,
                                  long count, int root, double finalScale, int maxPieceBytes) {
        this.reduce = reduce;
        this.send = send;
        this.recv = recv;
        this.type = type;
        this.op = op;
        this.finalScale = finalScale;
        this.bytes = count * type.bytes();
        this.pieceBytes = maxPieceBytes - maxPieceBytes % type.bytes();
        this.pieces = (int) Math.max(1, (bytes + pieceBytes - 1) / pieceBytes);
        int start = reduce ? (root + 1) % n : root;
        int end = (start + n - 1) % n;
        this.first = rank == start;
        this.last = rank == end;
        this.sent = 0;
        this.received = 0;
        return this;
    }

    private int length(int chunk) {
        return (int) Math.min(pieceBytes, bytes - (long) chunk * pieceBytes);
    }

    @Override
    public boolean receiveDone() {
        return first || received == pieces;
    }

    @Override
    public boolean sendDone() {
        return last || (first ? sent == pieces : received == pieces);
    }

    @Override
    public int expectedStep() {
        return 0;
    }

    @Override
    public int expectedChunk() {
        return received;
    }

    @Override
    public int expectedBytes() {
        return length(received);
    }

    @Override
    public boolean receive(long address, Link link) {
        int length = length(received);
        long at = (long) received * pieceBytes;
        long count = length / type.bytes();
        if (last) {
            if (reduce) {
                if (recv != send) {
                    MemorySegment.copy(send, at, recv, at, length);
                }
                HostKernels.reduce(type, op, recv, at, Link.MEMORY, address, recv, at, count);
                if (finalScale != 1.0) {
                    HostKernels.scale(type, recv, at, count, (float) finalScale);
                }
            } else {
                MemorySegment.copy(Link.MEMORY, address, recv, at, length);
            }
        } else {
            long out = link.claim(0, received, length);
            if (out == 0) {
                return false;
            }
            MemorySegment.copy(Link.MEMORY, address, Link.MEMORY, out, length);
            if (reduce) {
                HostKernels.reduce(type, op, Link.MEMORY, out, send, at, Link.MEMORY, out, count);
            } else {
                MemorySegment.copy(Link.MEMORY, address, recv, at, length);
            }
            link.commit();
        }
        received++;
        return true;
    }

    @Override
    public int send(Link link) {
        if (!first) {
            return 0; // middle ranks forward from receive()
        }
        int n0 = sent;
        while (sent < pieces) {
            int length = length(sent);
            long address = link.claim(0, sent, length);
            if (address == 0) {
                break;
            }
            MemorySegment.copy(send, (long) sent * pieceBytes, Link.MEMORY, address, length);
            link.commit();
            sent++;
        }
        return sent - n0;
    }
}
