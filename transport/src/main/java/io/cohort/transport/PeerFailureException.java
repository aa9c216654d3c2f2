package io.cohort.transport;

import io.cohort.core.CohortException;

/** A collective could not finish because a peer process died, went silent or disagreed on the call. */
public class PeerFailureException extends CohortException {

    private final int peerRank;

    public PeerFailureException(int peerRank, String message) {
        super(message);
        this.peerRank = peerRank;
    }

    public PeerFailureException(int peerRank, String message, Throwable cause) {
        super(message, cause);
        this.peerRank = peerRank;
    }

    /** The rank the failure is attributed to (-1 if none could be named). */
    public int peerRank() {
        return peerRank;
    }
}
