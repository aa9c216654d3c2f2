package io.cohort.backend;

import io.cohort.core.CohortException;

/**
 * Thrown by {@link CollectiveBackend#enqueueAll} when one rank's part could not be enqueued: says which rank,
 * so that the caller can name its device. The cause is what that rank's enqueue threw.
 */
public final class RankEnqueueException extends CohortException {

    private final int rank;

    public RankEnqueueException(int rank, RuntimeException cause) {
        super(cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage(), cause);
        this.rank = rank;
    }

    public int rank() {
        return rank;
    }
}
