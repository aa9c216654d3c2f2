package io.cohort.cuda;

/**
 * Errors kernels report through a device's error word (mapped host memory) instead of trapping, which would
 * poison the whole context: {@code code | rank << 8 | peer << 16}, the first error wins. Codes match
 * src/main/cuda/common.cuh.
 */
public record KernelError(int code, int rank, int peer) {
    public static final int WAIT_TIMEOUT = 1;
    public static final int BARRIER_TIMEOUT = 2;

    public static KernelError decode(int word) {
        return new KernelError(word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff);
    }

    public String describe() {
        return switch (code) {
            case WAIT_TIMEOUT -> "a stream waitValue (flag wait kernel) timed out: the flag never reached its value";
            case BARRIER_TIMEOUT -> "P2P all-reduce barrier timed out: rank " + rank + " waited for rank " + peer
                    + ", which never arrived (did every rank enqueue the same collectives in the same order?)";
            default -> "unknown kernel error code " + code;
        };
    }
}
