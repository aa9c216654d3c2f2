package io.cohort.transport;

/**
 * What one collective sends to the right neighbour and expects from the left one, piece by piece.
 * Pieces travel in (step, chunk) order on each link; {@link Link} drives a schedule to completion: it
 * sends whatever is ready, hands each expected incoming piece over, and drops anything else.
 */
sealed interface Schedule permits RingSchedule, ChainSchedule {

    /** Whether every piece this rank receives has been received. */
    boolean receiveDone();

    /** Whether every piece this rank sends has been sent. */
    boolean sendDone();

    /** Step of the next piece expected from the left neighbour. */
    int expectedStep();

    /** Chunk of the next piece expected from the left neighbour. */
    int expectedChunk();

    /** Payload bytes of the next expected piece. */
    int expectedBytes();

    /**
     * Consumes the expected piece at absolute address {@code address} (Aeron's mapped log); returns false if
     * it cannot be consumed yet (a forward it needs is back-pressured), so it stays in the log.
     */
    boolean receive(long address, Link link);

    /** Sends ready pieces until none is ready or the link pushes back; returns how many were sent. */
    int send(Link link);
}
