package io.cohort.plan;

/** Which buffer of a rank a {@link BufferRef} points into. */
public enum Slot {
    /** The caller's send (input) buffer. */
    SEND,
    /** The caller's recv (output) buffer. */
    RECV,
    /** Device scratch from the rank's memory pool, {@link Plan#scratchElements()} long. */
    SCRATCH,
    /**
     * Host staging owned by the rank ({@link Plan#stagingElements()} long, pinned): every rank of the group can
     * read and write it, so it carries data between devices that have no P2P link.
     */
    STAGING
}
