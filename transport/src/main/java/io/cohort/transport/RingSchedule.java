package io.cohort.transport;

import io.cohort.device.host.HostKernels;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;

/**
 * Ring reduce-scatter and/or all-gather on one buffer, in place, in pieces of at most one frame.
 *
 * <p>The buffer is cut into n segments. In reduce-scatter step g (0..n-2) rank r sends segment r-g-1 and
 * receives segment r-g-2, which it combines into its own copy; after the last step it owns the full
 * reduction of segment r. All-gather steps then pass finished segments on around the ring. Each piece
 * is forwarded as soon as it has been combined, so copying, transfer and reduction of different pieces
 * overlap, and a rank never needs more than its own buffer: the log is the only queue.
 *
 * <p>Why in place is safe: piece c of segment s is overwritten by the piece that arrives n-1 steps after
 * this rank sent piece c of s, and that piece can only exist once the send has reached the right
 * neighbour.
 */
final class RingSchedule implements Schedule {

    private final int n;
    private final int rank;
    private final long[] segOffset;
    private final long[] segBytes;

    private MemorySegment buf;
    private DType type;
    private ReduceOp op;
    private int pieceBytes;
    private int rsSteps;
    private int steps;
    private double finalScale;

    private int sendStep;
    private int sendChunk;
    private int recvStep;
    private int recvChunk;

    RingSchedule(int n, int rank) {
        this.n = n;
        this.rank = rank;
        this.segOffset = new long[n];
        this.segBytes = new long[n];
    }

    /**
     * Prepares one collective on {@code buf}.
     *
     * @param blockCount   0: split {@code count} elements evenly into n segments (all-reduce); otherwise every
     *                     segment is a block of blockCount elements at block * blockCount (reduce-scatter,
     *                     all-gather)
     * @param reduceScatter run the reduce-scatter steps
     * @param allGather     run the all-gather steps
     * @param finalScale    factor applied to this rank's segment once it is fully reduced (AVG), or 1
     */
    RingSchedule prepare(MemorySegment buf, DType type, ReduceOp op, long count, long blockCount, boolean reduceScatter,
                         boolean allGather, double finalScale, int maxPieceBytes) {
        this.buf = buf;
        this.type = type;
        this.op = op;
        this.finalScale = finalScale;
        this.pieceBytes = maxPieceBytes - maxPieceBytes % type.bytes();
        long elem = type.bytes();
        if (blockCount > 0) {
            for (int i = 0; i < n; i++) {
                segOffset[i] = i * blockCount * elem;
                segBytes[i] = blockCount * elem;
            }
        } else {
            long base = count / n;
            long extra = count % n;
            long offset = 0;
            for (int i = 0; i < n; i++) {
                long c = base + (i < extra ? 1 : 0);
                segOffset[i] = offset * elem;
                segBytes[i] = c * elem;
                offset += c;
            }
        }
        this.rsSteps = reduceScatter ? n - 1 : 0;
        this.steps = rsSteps + (allGather ? n - 1 : 0);
        this.sendStep = 0;
        this.sendChunk = 0;
        this.recvStep = 0;
        this.recvChunk = 0;
        return this;
    }

    private int sendSegment(int step) {
        return Math.floorMod(rank - step - (rsSteps > 0 ? 1 : 0), n);
    }

    private int recvSegment(int step) {
        return Math.floorMod(rank - step - (rsSteps > 0 ? 2 : 1), n);
    }

    /** Pieces of a segment: at least one, so empty segments still carry the step (barriers, count < n). */
    private int pieces(int segment) {
        return (int) Math.max(1, (segBytes[segment] + pieceBytes - 1) / pieceBytes);
    }

    private int pieceLength(int segment, int chunk) {
        return (int) Math.min(pieceBytes, segBytes[segment] - (long) chunk * pieceBytes);
    }

    @Override
    public boolean receiveDone() {
        return recvStep >= steps;
    }

    @Override
    public boolean sendDone() {
        return sendStep >= steps;
    }

    @Override
    public int expectedStep() {
        return recvStep;
    }

    @Override
    public int expectedChunk() {
        return recvChunk;
    }

    @Override
    public int expectedBytes() {
        return pieceLength(recvSegment(recvStep), recvChunk);
    }

    @Override
    public boolean receive(long address, Link link) {
        int segment = recvSegment(recvStep);
        int length = pieceLength(segment, recvChunk);
        long at = segOffset[segment] + (long) recvChunk * pieceBytes;
        if (recvStep < rsSteps) {
            HostKernels.reduce(type, op, buf, at, Link.MEMORY, address, buf, at, length / type.bytes());
            if (recvStep == rsSteps - 1 && finalScale != 1.0) {
                HostKernels.scale(type, buf, at, length / type.bytes(), (float) finalScale);
            }
        } else {
            MemorySegment.copy(Link.MEMORY, address, buf, at, length);
        }
        if (++recvChunk == pieces(segment)) {
            recvStep++;
            recvChunk = 0;
        }
        return true;
    }

    @Override
    public int send(Link link) {
        int sent = 0;
        while (sendStep < steps && ready(sendStep, sendChunk)) {
            int segment = sendSegment(sendStep);
            int length = pieceLength(segment, sendChunk);
            long address = link.claim(sendStep, sendChunk, length);
            if (address == 0) {
                break;
            }
            MemorySegment.copy(buf, segOffset[segment] + (long) sendChunk * pieceBytes, Link.MEMORY, address, length);
            link.commit();
            sent++;
            if (++sendChunk == pieces(segment)) {
                sendStep++;
                sendChunk = 0;
            }
        }
        return sent;
    }

    /** Piece (step, chunk) can go once piece (step - 1, chunk) has come in and been combined. */
    private boolean ready(int step, int chunk) {
        return step == 0 || recvStep > step - 1 || (recvStep == step - 1 && recvChunk > chunk);
    }
}
