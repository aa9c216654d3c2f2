package io.cohort.core;

import java.util.Locale;

/**
 * The collective operations, with NCCL's buffer conventions ({@code count} is always per rank):
 * <ul>
 *   <li>ALL_REDUCE: send[r] and recv[r] hold count elements; recv[r] = op over all send.</li>
 *   <li>REDUCE: like ALL_REDUCE, but only recv[root] is written.</li>
 *   <li>BROADCAST: send[root] (count elements) is copied to recv[r] on every rank.</li>
 *   <li>REDUCE_SCATTER: send[r] holds count * n; recv[r] (count) = op over block r of every send.</li>
 *   <li>ALL_GATHER: send[r] holds count; recv[r] (count * n) holds every rank's send, in rank order.</li>
 * </ul>
 * send and recv may be the same buffer (in place) for ALL_REDUCE, REDUCE and BROADCAST. As in NCCL, a
 * non-root's recv in REDUCE and a non-root's send in BROADCAST are never touched and may be absent (null):
 * see {@link #usesSend} and {@link #usesRecv}.
 */
public enum Collective {
    ALL_REDUCE, REDUCE, BROADCAST, REDUCE_SCATTER, ALL_GATHER;

    /** Computed once: messages and metrics ask for it on hot paths. */
    private final String cliName = name().toLowerCase(Locale.ROOT).replace('_', '-');

    /** Elements the send buffer of each rank must hold for {@code count} and {@code ranks}. */
    public long sendCount(long count, int ranks) {
        return this == REDUCE_SCATTER ? count * ranks : count;
    }

    /** Elements the recv buffer of each rank must hold for {@code count} and {@code ranks}. */
    public long recvCount(long count, int ranks) {
        return this == ALL_GATHER ? count * ranks : count;
    }

    /** Whether rank {@code rank}'s send buffer takes part (false only for a non-root of BROADCAST). */
    public boolean usesSend(int rank, int root) {
        return this != BROADCAST || rank == root;
    }

    /** Whether rank {@code rank}'s recv buffer takes part (false only for a non-root of REDUCE). */
    public boolean usesRecv(int rank, int root) {
        return this != REDUCE || rank == root;
    }

    /** Whether this collective combines values with a {@link ReduceOp}. */
    public boolean reduces() {
        return this == ALL_REDUCE || this == REDUCE || this == REDUCE_SCATTER;
    }

    /** Whether the collective has a root rank. */
    public boolean rooted() {
        return this == REDUCE || this == BROADCAST;
    }

    /**
     * Bus bandwidth factor of nccl-tests: busbw = algbw * factor, so results compare across rank counts.
     */
    public double busBandwidthFactor(int ranks) {
        if (ranks <= 1) {
            return 1.0;
        }
        return switch (this) {
            case ALL_REDUCE -> 2.0 * (ranks - 1) / ranks;
            case REDUCE_SCATTER, ALL_GATHER -> (double) (ranks - 1) / ranks;
            case REDUCE, BROADCAST -> 1.0;
        };
    }

    public String cliName() {
        return cliName;
    }

    public static Collective parse(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        return switch (n) {
            case "ALLREDUCE" -> ALL_REDUCE;
            case "REDUCESCATTER" -> REDUCE_SCATTER;
            case "ALLGATHER" -> ALL_GATHER;
            default -> {
                try {
                    yield valueOf(n);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown collective '" + name + "'");
                }
            }
        };
    }
}
