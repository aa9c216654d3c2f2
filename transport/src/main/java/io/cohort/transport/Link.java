package io.cohort.transport;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.BufferClaim;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.Header;
import io.cohort.core.CohortException;
import io.cohort.core.IdlePolicy;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;
import org.agrona.DirectBuffer;

/**
 * One rank's two ends of the ring: an exclusive publication to its right neighbour and its inbox, in which
 * only the session that introduced itself as the left neighbour of this group is heard. {@link #run} drives
 * a {@link Schedule}: it sends what is ready (zero-copy through {@link BufferClaim}), consumes the expected
 * incoming piece straight from the log, waits with an idle strategy when neither moves, and fails with the
 * rank to blame when a peer dies, the stream closes, or nothing moves for the progress timeout.
 *
 * <p>Not thread-safe: one thread (the group's caller) drives it. Allocates nothing per piece.
 */
final class Link implements ControlledFragmentHandler {

    /**
     * All of memory as one segment. Aeron's log buffers are mapped files addressed by absolute address;
     * reading and writing them through this segment avoids creating a segment per fragment.
     */
    static final MemorySegment MEMORY = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private static final int FRAGMENT_LIMIT = 16;

    private final TransportConfig config;
    private final AeronTransport transport;
    private final int groupId;
    private final int rank;
    private final int left;
    private final int right;
    private final ExclusivePublication toRight;
    private final Subscription inbox;
    private final SourceFilter sources;
    private final BufferClaim claim = new BufferClaim();
    private final IdlePolicy idle;
    /** The round of the current wait ({@link IdlePolicy} is stateless). */
    private int idleRound;
    private final int maxPieceBytes;
    private final long progressTimeoutNs;
    private final long livenessIntervalNs;

    private int leftSession;
    private boolean joining;
    private PeerMonitor monitor;

    // the collective being driven
    private Schedule schedule;
    private long seq;
    private int signature;
    private String what = "join";
    private RuntimeException failure;

    // pieces consumed, and what was dropped (diagnostics and tests)
    private long consumed;
    private long droppedForeign;
    private long droppedStale;
    private long droppedUnannounced;

    Link(AeronTransport transport, int groupId) {
        this.transport = transport;
        this.config = transport.config();
        this.groupId = groupId;
        this.rank = config.rank();
        this.left = (rank + config.size() - 1) % config.size();
        this.right = (rank + 1) % config.size();
        this.toRight = transport.publicationTo(right);
        this.sources = new SourceFilter(config);
        this.inbox = transport.inbox(sources, left);
        this.idle = IdleStrategies.of(config.idle());
        // one piece = one frame: payload after our header, a multiple of 64 bytes (whole vectors, any dtype)
        this.maxPieceBytes = (toRight.maxPayloadLength() - Frame.HEADER_LENGTH) & ~63;
        this.progressTimeoutNs = config.progressTimeout().toNanos();
        this.livenessIntervalNs = config.livenessInterval().toNanos();
    }

    /** Largest payload of one piece. */
    int maxPieceBytes() {
        return maxPieceBytes;
    }

    int left() {
        return left;
    }

    int right() {
        return right;
    }

    void monitor(PeerMonitor monitor) {
        this.monitor = monitor;
    }

    long droppedForeign() {
        return droppedForeign;
    }

    long droppedStale() {
        return droppedStale;
    }

    long droppedUnannounced() {
        return droppedUnannounced;
    }

    /**
     * Waits until the right neighbour's inbox is connected and the left neighbour has introduced itself,
     * then binds the left neighbour's session: frames of any other session are ignored from then on.
     */
    void connect() {
        long deadline = System.nanoTime() + config.connectTimeout().toNanos();
        boolean helloSent = false;
        joining = true;
        idleRound = 0;
        try {
            while (!helloSent || leftSession == 0) {
                int work = 0;
                if (!helloSent && toRight.isConnected()) {
                    long address = claim(Frame.HELLO, 0, 0, 0);
                    if (address != 0) {
                        commit();
                        helloSent = true;
                        work++;
                    }
                }
                if (leftSession == 0) {
                    work += inbox.controlledPoll(this, FRAGMENT_LIMIT);
                }
                if (work == 0) {
                    idle.idle(idleRound++); // spins, then yields (never false: the policies yield for ever)
                }
                if (System.nanoTime() - deadline > 0) {
                    throw joinTimeout(helloSent);
                }
            }
        } finally {
            joining = false;
        }
    }

    private PeerFailureException joinTimeout(boolean helloSent) {
        String group = "rank " + rank + " of group '" + config.group() + "' (" + config.size() + " ranks)";
        String wait = config.connectTimeout().toMillis() + " ms";
        if (!helloSent) {
            return new PeerFailureException(right, group + ": rank " + right + " (right neighbour) did not start "
                    + "receiving on " + transport.channelOf(right) + " stream " + transport.streamOf(right)
                    + " within " + wait);
        }
        return new PeerFailureException(left, group + ": rank " + left + " (left neighbour) did not connect to "
                + "this rank within " + wait);
    }

    /** Runs {@code s} as collective {@code seq} to completion, or throws naming the rank it failed on. */
    void run(Schedule s, long seq, int signature, String what) {
        this.schedule = s;
        this.seq = seq;
        this.signature = signature;
        this.what = what;
        this.failure = null;
        long lastProgress = System.nanoTime();
        long nextCheck = lastProgress + livenessIntervalNs;
        boolean progressed = false;
        int busyRounds = 0;
        idleRound = 0;
        try {
            while (!(s.sendDone() && s.receiveDone())) {
                int sent = s.send(this);
                int polled = 0;
                long consumedBefore = consumed;
                if (!s.receiveDone()) {
                    polled = inbox.controlledPoll(this, FRAGMENT_LIMIT);
                    if (failure != null) {
                        throw failure;
                    }
                }
                if (sent > 0 || consumed != consumedBefore) {
                    progressed = true; // only pieces of this collective count: dropped frames are not progress
                }
                if (sent > 0 || polled > 0) {
                    idleRound = 0;
                    if ((++busyRounds & 0xff) != 0) {
                        continue; // busy: look at the clock only now and then (stray frames must not hide a stall)
                    }
                } else {
                    idle.idle(idleRound++); // spins, then yields (never false: the policies yield for ever)
                }
                long now = System.nanoTime();
                if (progressed) {
                    lastProgress = now;
                    progressed = false;
                }
                if (now - nextCheck >= 0) {
                    checkPeers(s, what);
                    nextCheck = now + livenessIntervalNs;
                }
                if (now - lastProgress > progressTimeoutNs) {
                    throw blame(stalled(s, what));
                }
            }
        } finally {
            this.schedule = null;
        }
    }

    /**
     * The error to raise for {@code symptom}: if a same-host peer has died, that is the cause to report (a closed
     * stream or a stall is usually its consequence). A killed process can take a moment to be seen as gone.
     */
    private RuntimeException blame(RuntimeException symptom) {
        if (monitor == null) {
            return symptom;
        }
        long deadline = System.nanoTime() + 5 * livenessIntervalNs;
        do {
            var dead = monitor.deadPeer();
            if (dead.isPresent()) {
                int r = dead.get();
                PeerFailureException e = new PeerFailureException(r, "rank " + r + " died during " + what + " #" + seq
                        + ": rank " + rank + " of group '" + config.group() + "' cannot finish it");
                e.addSuppressed(symptom);
                return e;
            }
            LockSupport.parkNanos(1_000_000);
        } while (System.nanoTime() - deadline < 0);
        return symptom;
    }

    private void checkPeers(Schedule s, String what) {
        if (monitor != null) {
            var dead = monitor.deadPeer();
            if (dead.isPresent()) {
                int r = dead.get();
                throw new PeerFailureException(r, "rank " + r + " died during " + what + " #" + seq
                        + ": rank " + rank + " of group '" + config.group() + "' cannot finish it");
            }
        }
        Throwable clientError = transport.clientError();
        if (clientError != null) {
            throw new CohortException("rank " + rank + " lost its media driver during " + what + " #" + seq
                    + " (" + clientError.getMessage() + ")", clientError);
        }
        if (!s.receiveDone()) {
            Image image = inbox.imageBySessionId(leftSession);
            if (image == null || image.isClosed()) {
                throw blame(new PeerFailureException(left, "rank " + left + " (left neighbour) went away during " + what
                        + " #" + seq + ": its stream to rank " + rank + " closed"));
            }
        }
        if (!s.sendDone() && !toRight.isConnected()) {
            throw blame(new PeerFailureException(right, "rank " + right + " (right neighbour) went away during " + what
                    + " #" + seq + ": it no longer receives from rank " + rank));
        }
    }

    private PeerFailureException stalled(Schedule s, String what) {
        String head = "rank " + rank + ": " + what + " #" + seq + " made no progress for "
                + config.progressTimeout().toMillis() + " ms: ";
        if (!s.receiveDone()) {
            return new PeerFailureException(left, head + "waiting for rank " + left + " (left neighbour) to send step "
                    + s.expectedStep() + " piece " + s.expectedChunk()
                    + " (is it dead, stuck, or making a different call?)");
        }
        return new PeerFailureException(right, head + "rank " + right + " (right neighbour) stopped consuming");
    }

    /**
     * Claims room for one frame to the right neighbour and writes its header; returns the absolute address of
     * its payload, or 0 if the link pushes back (try again later). {@link #commit} publishes it.
     */
    long claim(int step, int chunk, int payloadBytes) {
        return claim(Frame.DATA, step, chunk, payloadBytes);
    }

    private long claim(int type, int step, int chunk, int payloadBytes) {
        long result = toRight.tryClaim(Frame.HEADER_LENGTH + payloadBytes, claim);
        if (result > 0) {
            Frame.write(claim.buffer(), claim.offset(), type, groupId, type == Frame.HELLO ? 0 : seq, step, chunk, rank,
                    type == Frame.HELLO ? 0 : signature);
            return claim.buffer().addressOffset() + claim.offset() + Frame.HEADER_LENGTH;
        }
        if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED) {
            Throwable cause = transport.clientError();
            throw blame(new CohortException("rank " + rank + ": the publication to rank " + right + " is "
                    + (result == Publication.CLOSED ? "closed" : "exhausted (max position)")
                    + (cause != null ? " (" + cause.getMessage() + ")" : ""), cause));
        }
        return 0; // BACK_PRESSURED, ADMIN_ACTION, NOT_CONNECTED: the caller idles, liveness checks judge the peer
    }

    void commit() {
        claim.commit();
    }

    @Override
    public Action onFragment(DirectBuffer buffer, int offset, int length, Header header) {
        if (joining) {
            return onJoinFragment(buffer, offset, length, header);
        }
        if (header.sessionId() != leftSession || length < Frame.HEADER_LENGTH
                || Frame.type(buffer, offset) != Frame.DATA || Frame.groupId(buffer, offset) != groupId) {
            dropForeign(header);
            return Action.COMMIT;
        }
        long frameSeq = Frame.seq(buffer, offset);
        if (frameSeq > seq) {
            return Action.ABORT; // the next collective's: leave it in the log until then
        }
        Schedule s = schedule;
        int step = Frame.step(buffer, offset);
        int chunk = Frame.chunk(buffer, offset);
        if (frameSeq < seq || s == null || s.receiveDone()
                || step < s.expectedStep() || (step == s.expectedStep() && chunk < s.expectedChunk())) {
            droppedStale++; // late or duplicate: already accounted for
            return Action.COMMIT;
        }
        if (step != s.expectedStep() || chunk != s.expectedChunk()) {
            failure = new PeerFailureException(left, "rank " + rank + ": collective #" + seq + " expected step "
                    + s.expectedStep() + " piece " + s.expectedChunk() + " from rank " + left + " but got step " + step
                    + " piece " + chunk);
            return Action.BREAK;
        }
        if (Frame.signature(buffer, offset) != signature) {
            failure = new PeerFailureException(left, "rank " + left + " and rank " + rank + " made different calls as "
                    + "collective #" + seq + " of group '" + config.group() + "' (collective, dtype, op, count or root"
                    + " differ): every rank must make the same calls in the same order");
            return Action.BREAK;
        }
        if (length - Frame.HEADER_LENGTH != s.expectedBytes()) {
            failure = new PeerFailureException(left, "rank " + left + " sent " + (length - Frame.HEADER_LENGTH)
                    + " bytes as step " + step + " piece " + chunk + " of collective #" + seq + "; rank " + rank
                    + " expected " + s.expectedBytes());
            return Action.BREAK;
        }
        if (!s.receive(buffer.addressOffset() + offset + Frame.HEADER_LENGTH, this)) {
            return Action.ABORT; // its forward is back-pressured: read it again next time
        }
        consumed++;
        return s.receiveDone() ? Action.BREAK : Action.COMMIT;
    }

    private Action onJoinFragment(DirectBuffer buffer, int offset, int length, Header header) {
        if (length >= Frame.HEADER_LENGTH && Frame.type(buffer, offset) == Frame.HELLO
                && Frame.groupId(buffer, offset) == groupId && Frame.srcRank(buffer, offset) == left
                && fromAnnouncedSource(header)) {
            leftSession = header.sessionId();
            return Action.BREAK;
        }
        dropForeign(header);
        return Action.COMMIT;
    }

    /** Whether the frame's image comes from the source announced for the left neighbour (the image is the context). */
    private boolean fromAnnouncedSource(Header header) {
        return header.context() instanceof Image image && sources.announced(left, image.sourceIdentity());
    }

    private void dropForeign(Header header) {
        droppedForeign++;
        if (!fromAnnouncedSource(header)) {
            droppedUnannounced++;
        }
    }

    /** Test hook: publishes a raw DATA frame on this rank's real link, as a late or duplicate frame would arrive. */
    boolean inject(long frameSeq, int step, int chunk, int frameSignature, byte[] payload) {
        long result = toRight.tryClaim(Frame.HEADER_LENGTH + payload.length, claim);
        if (result <= 0) {
            return false;
        }
        Frame.write(claim.buffer(), claim.offset(), Frame.DATA, groupId, frameSeq, step, chunk, rank, frameSignature);
        claim.buffer().putBytes(claim.offset() + Frame.HEADER_LENGTH, payload);
        claim.commit();
        return true;
    }

    void close() {
        toRight.close();
        inbox.close();
    }
}
