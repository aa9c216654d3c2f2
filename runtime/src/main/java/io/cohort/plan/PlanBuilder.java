package io.cohort.plan;

import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Appends the steps of every rank of one plan, in one global construction order, and keeps the cross-rank
 * ordering rules that every planner needs in one place:
 *
 * <ul>
 *   <li>Data crosses ranks only through {@link #publish} (the producer makes a region readable by one consumer
 *       and signals) and {@link #consume} (the consumer waits for that signal and gets the ref to read). Where
 *       the topology has no P2P from consumer to producer, publish first copies the region into the producer's
 *       host STAGING, so the consumer never touches a peer's device memory without a link.</li>
 *   <li>Waits are only emitted on signals that already exist, so the wait graph follows construction order
 *       and cannot deadlock. A wait the consumer already knows to be satisfied (transitively, through vector
 *       clocks of earlier waits) is left out.</li>
 *   <li>Each rank's first Signal covers the collective's start: a peer reading a rank's SEND always waits
 *       until that rank's stream has reached the collective (the caller's earlier work produced SEND).</li>
 *   <li>{@link #barrierForReaders} / {@link #build}: before a rank's buffers may be reused (by the rank itself
 *       or, after the plan, by the caller or the next collective), the rank waits until every peer that touched
 *       them is done. The round {@link #build} appends is the plan's completion guarantee
 *       ({@link PlanValidator} checks it); executors add no barrier of their own.</li>
 *   <li>STAGING is bump-allocated per rank and never reused within one plan, so staged data needs no
 *       wait-for-readers before a later stage.</li>
 * </ul>
 *
 * Not thread-safe; one builder per plan.
 */
final class PlanBuilder {

    /** A region of {@code owner}'s memory made readable for one consumer after {@code owner}'s tag. */
    record Published(int owner, BufferRef ref, long count, int tag) {
    }

    private record StageKey(int rank, Slot slot, long offset, long count) {
    }

    private final PlanRequest request;
    private final Topology topology;
    private final int n;
    private final List<List<Step>> steps = new ArrayList<>();
    private final int[] nextTag;
    private final boolean[] dirty;
    /** known[r][q]: highest tag of q that happens-before r's current position (-1: none). */
    private final int[][] known;
    /** (rank, tag) -> known[rank] when the signal was placed. */
    private final List<List<int[]>> snapshots = new ArrayList<>();
    /**
     * readers[owner][reader]: the tag of the reader's first Signal after its last touch of owner's memory
     * since owner's last reader barrier (that Signal may not exist yet); -1: no touch.
     */
    private final int[][] readers;
    private final long[] stagingTop;
    private final long[] scratchExtent;
    private final Map<StageKey, BufferRef> staged = new HashMap<>();

    PlanBuilder(PlanRequest request) {
        this.request = request;
        this.topology = request.topology();
        this.n = topology.size();
        this.nextTag = new int[n];
        this.dirty = new boolean[n];
        Arrays.fill(dirty, true); // the collective's start counts as unpublished work
        this.known = new int[n][n];
        for (int[] row : known) {
            Arrays.fill(row, -1);
        }
        this.readers = new int[n][n];
        for (int[] row : readers) {
            Arrays.fill(row, -1);
        }
        this.stagingTop = new long[n];
        this.scratchExtent = new long[n];
        for (int r = 0; r < n; r++) {
            steps.add(new ArrayList<>());
            snapshots.add(new ArrayList<>());
        }
    }

    int ranks() {
        return n;
    }

    PlanRequest request() {
        return request;
    }

    Topology topology() {
        return topology;
    }

    // ---- data steps -------------------------------------------------------------------------------------

    void copy(int rank, BufferRef src, BufferRef dst, long count) {
        if (count == 0) {
            return;
        }
        touch(rank, src, count, false);
        touch(rank, dst, count, true);
        append(rank, new Step.Copy(src, dst, count), true);
    }

    void reduce(int rank, BufferRef a, BufferRef b, BufferRef dst, long count) {
        if (count == 0) {
            return;
        }
        touch(rank, a, count, false);
        touch(rank, b, count, false);
        touch(rank, dst, count, true);
        append(rank, new Step.Reduce(a, b, dst, count), true);
    }

    /** The AVG finish on {@code buf}; executors apply it only for AVG (see {@link Step.Scale}). */
    void scale(int rank, BufferRef buf, long count) {
        if (count == 0 || n == 1) {
            return;
        }
        touch(rank, buf, count, true);
        append(rank, new Step.Scale(buf, count), true);
    }

    private void touch(int rank, BufferRef ref, long count, boolean write) {
        if (ref.rank() != rank) {
            if (ref.slot() != Slot.STAGING && !topology.p2p(rank, ref.rank())) {
                throw new IllegalStateException("planner bug: rank " + rank + " touches " + ref + " without P2P");
            }
            readers[ref.rank()][rank] = nextTag[rank]; // this step makes the rank dirty: its next Signal covers it
        }
        long end = ref.offset() + count;
        if (ref.slot() == Slot.SCRATCH) {
            scratchExtent[ref.rank()] = Math.max(scratchExtent[ref.rank()], end);
        }
        if (write) {
            // a staged copy of a region that changes is stale
            staged.keySet().removeIf(k -> k.rank() == ref.rank() && k.slot() == ref.slot()
                    && k.offset() < end && ref.offset() < k.offset() + k.count());
        }
    }

    private void append(int rank, Step step, boolean data) {
        steps.get(rank).add(step);
        if (data) {
            dirty[rank] = true;
        }
    }

    // ---- ordering -----------------------------------------------------------------------------------------

    /** A tag of {@code rank} that covers everything appended to it so far (a new Signal only if needed). */
    int signal(int rank) {
        if (!dirty[rank]) {
            return nextTag[rank] - 1;
        }
        int tag = nextTag[rank]++;
        append(rank, new Step.Signal(tag), false);
        dirty[rank] = false;
        int[] snap = known[rank].clone();
        snap[rank] = tag;
        known[rank][rank] = tag;
        snapshots.get(rank).add(snap);
        return tag;
    }

    /** Makes {@code rank}'s later steps wait for {@code peer}'s {@code tag}, unless already ordered. */
    void waitFor(int rank, int peer, int tag) {
        if (rank == peer || known[rank][peer] >= tag) {
            return;
        }
        append(rank, new Step.Wait(peer, tag), false);
        int[] snap = snapshots.get(peer).get(tag);
        for (int q = 0; q < n; q++) {
            known[rank][q] = Math.max(known[rank][q], snap[q]);
        }
    }

    /** Orders {@code rank}'s later steps after everything {@code peer} has appended so far. */
    void after(int rank, int peer) {
        if (rank != peer) {
            waitFor(rank, peer, signal(peer));
        }
    }

    /**
     * Makes {@code count} elements at {@code src} (memory of {@code owner}, as it is after the owner's steps so
     * far) readable by {@code consumer}: directly where the consumer has P2P to the owner, otherwise through a
     * fresh region of the owner's STAGING (shared by consumers of the same unchanged region).
     */
    Published publish(int owner, int consumer, BufferRef src, long count) {
        BufferRef ref = src;
        if (owner != consumer && src.slot() != Slot.STAGING && !topology.p2p(consumer, owner) && count > 0) {
            StageKey key = new StageKey(src.rank(), src.slot(), src.offset(), count);
            ref = staged.get(key);
            if (ref == null) {
                ref = BufferRef.staging(owner, stagingTop[owner]);
                stagingTop[owner] += count;
                copy(owner, src, ref, count);
                staged.put(key, ref);
            }
        }
        return new Published(owner, ref, count, owner == consumer ? -1 : signal(owner));
    }

    /**
     * Where {@code owner} should write {@code count} elements that only {@code consumer} will read: a fresh
     * region of the owner's STAGING when the consumer has no P2P to the owner (so {@link #publish} needs no
     * extra copy), else {@code otherwise}.
     */
    BufferRef destinationFor(int owner, int consumer, long count, BufferRef otherwise) {
        if (owner == consumer || topology.p2p(consumer, owner) || count == 0) {
            return otherwise;
        }
        BufferRef ref = BufferRef.staging(owner, stagingTop[owner]);
        stagingTop[owner] += count;
        return ref;
    }

    /** Waits for {@code p} on {@code consumer}'s list and returns the ref to read. */
    BufferRef consume(int consumer, Published p) {
        if (p.owner() != consumer) {
            waitFor(consumer, p.owner(), p.tag());
        }
        return p.ref();
    }

    /**
     * Before {@code ranks} reuse their memory: each waits until every peer that touched it since the last
     * barrier is done. All signals first, then all waits, so the barrier costs one round, not a chain.
     */
    void barrierForReaders(int... ranks) {
        for (int owner : ranks) {
            for (int q = 0; q < n; q++) {
                if (readers[owner][q] == nextTag[q]) {
                    signal(q);
                }
            }
        }
        for (int owner : ranks) {
            for (int q = 0; q < n; q++) {
                if (readers[owner][q] >= 0) {
                    waitFor(owner, q, readers[owner][q]);
                    readers[owner][q] = -1;
                }
            }
        }
    }

    Plan build(Algorithm algorithm, String description) {
        int[] all = new int[n];
        Arrays.setAll(all, i -> i);
        barrierForReaders(all);
        long scratch = Arrays.stream(scratchExtent).max().orElse(0);
        long staging = Arrays.stream(stagingTop).max().orElse(0);
        return new Plan(request.collective(), algorithm, n, request.root(), request.count(), steps, scratch,
                staging, description);
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    /** Offset of part {@code k} when {@code count} is split into {@code parts} parts (the first ones one longer). */
    static long partStart(long count, int parts, int k) {
        return k * (count / parts) + Math.min(k, count % parts);
    }

    /** Most pieces one transfer is cut into: bounds plan size and flag count whatever chunk is asked for. */
    static final int MAX_PIECES = 256;

    /**
     * Splits [0, length) into pieces of at most {@code chunk} elements (one piece when chunk is 0), but never
     * more than {@link #MAX_PIECES}: tiny chunks on a large buffer get larger.
     */
    static long[] pieces(long length, long chunk) {
        if (chunk <= 0 || length <= chunk) {
            return new long[] {0, length};
        }
        chunk = Math.max(chunk, (length + MAX_PIECES - 1) / MAX_PIECES);
        int count = (int) ((length + chunk - 1) / chunk);
        long[] bounds = new long[count + 1];
        for (int i = 0; i <= count; i++) {
            bounds[i] = Math.min(length, i * chunk);
        }
        return bounds;
    }
}
