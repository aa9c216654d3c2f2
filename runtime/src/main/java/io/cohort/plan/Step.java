package io.cohort.plan;

import java.util.List;

/**
 * One unit of a rank's work in a {@link Plan}, enqueued in order on that rank's stream. Counts and offsets
 * are in elements. A step executed by rank r may touch buffers of rank r, STAGING of any rank, and buffers
 * of a rank p only where the topology has P2P from r to p.
 *
 * <p>Cross-rank order comes only from {@link Signal} and {@link Wait}: a Signal(tag) of rank r publishes
 * "everything r enqueued before this is done" for the current collective's sequence number; Wait(r, tag)
 * holds back the waiter's later steps until then. Executors implement them with sequence-numbered flags,
 * so each rank can enqueue its list independently.
 */
public sealed interface Step {

    /** The buffer regions this step reads or writes, each {@link #count()} elements long (none for Signal and Wait). */
    default List<BufferRef> buffers() {
        return switch (this) {
            case Copy(BufferRef src, BufferRef dst, long count) -> List.of(src, dst);
            case Reduce(BufferRef a, BufferRef b, BufferRef dst, long count) -> List.of(a, b, dst);
            case Scale(BufferRef buf, long count) -> List.of(buf);
            case Signal s -> List.of();
            case Wait w -> List.of();
        };
    }

    /** Elements each of {@link #buffers()} spans; 0 for Signal and Wait. */
    default long count() {
        return switch (this) {
            case Copy c -> c.count();
            case Reduce r -> r.count();
            case Scale s -> s.count();
            case Signal s -> 0;
            case Wait w -> 0;
        };
    }

    /**
     * dst = src for count elements. Where a collective runs in place, src and dst may be the same memory
     * (e.g. a single rank's send to recv): executors may skip such a copy.
     */
    record Copy(BufferRef src, BufferRef dst, long count) implements Step {
    }

    /** dst = a op b for count elements (dst may alias a or b). */
    record Reduce(BufferRef a, BufferRef b, BufferRef dst, long count) implements Step {
    }

    /**
     * buf *= 1 / ranks for count elements: finishes AVG. Plans do not depend on the reduce op (they are
     * cached per request), so planners emit Scale wherever an AVG result is complete and executors apply it
     * only when the call's op is AVG, skipping it otherwise.
     */
    record Scale(BufferRef buf, long count) implements Step {
    }

    /**
     * Publishes that all earlier steps of this rank are done, under {@code tag}. Each rank signals each tag at
     * most once per plan, and a rank's tags are 0, 1, 2, ... in list order, so an executor needs
     * {@link Plan#maxSignals()} flags per rank.
     */
    record Signal(int tag) implements Step {
    }

    /** Waits until rank {@code rank} has published {@code tag} for this collective. */
    record Wait(int rank, int tag) implements Step {
    }
}
