package io.cohort.plan;

/** Element offset into one buffer of one rank. */
public record BufferRef(int rank, Slot slot, long offset) {
    public BufferRef {
        if (rank < 0) {
            throw new IllegalArgumentException("rank " + rank);
        }
        if (offset < 0) {
            throw new IllegalArgumentException("offset " + offset);
        }
    }

    public static BufferRef send(int rank, long offset) {
        return new BufferRef(rank, Slot.SEND, offset);
    }

    public static BufferRef recv(int rank, long offset) {
        return new BufferRef(rank, Slot.RECV, offset);
    }

    public static BufferRef scratch(int rank, long offset) {
        return new BufferRef(rank, Slot.SCRATCH, offset);
    }

    public static BufferRef staging(int rank, long offset) {
        return new BufferRef(rank, Slot.STAGING, offset);
    }

    public BufferRef plus(long elements) {
        return new BufferRef(rank, slot, offset + elements);
    }

    @Override
    public String toString() {
        return slot.name().toLowerCase() + "[" + rank + "]+" + offset;
    }
}
