package io.cohort.nn;

import io.cohort.device.DeviceStream;
import io.cohort.device.Tensor;

/**
 * An {@link AllReduceGroup} whose ranks enqueue their own parts, each on its own stream, from their own
 * threads, without meeting on the host: the backend orders the ranks on the devices (the P2P kernels' flags,
 * NCCL's stream semantics, the host streams' flag waits). {@link TpGroup} orders each rank's compute around
 * {@link #stream} with {@link TensorOps#orderBefore}/{@link TensorOps#orderAfter}, so a forward enqueues every
 * layer without a host synchronize and the host waits only for the logits.
 */
public interface StreamOrderedAllReduce extends AllReduceGroup {

    /** The stream rank {@code rank}'s parts run on. */
    DeviceStream stream(int rank);

    /**
     * Enqueues rank {@code rank}'s part of its next all-reduce (the ranks' n-th calls make one all-reduce), in
     * place on {@link #stream}; returns at once. Each rank calls from one thread at a time; ranks call in the
     * same order (SPMD). Failures of the enqueued work surface on the stream (a wait on it, the logits' copy).
     */
    void enqueue(int rank, Tensor tensor);

    /**
     * Whether {@link #enqueueAddRmsNorm} takes an f32 message of {@code rows x cols} (a backend that fuses the
     * all-reduce with the residual add and RMSNorm after it); the same answer for every rank.
     */
    default boolean fusesAddRmsNorm(int rows, int cols) {
        return false;
    }

    /**
     * Enqueues rank {@code rank}'s part of its next all-reduce fused with the residual add and RMSNorm
     * ({@link TpComm#allReduceAddRmsNorm}), numbered like {@link #enqueue}. Only where {@link #fusesAddRmsNorm}.
     */
    default void enqueueAddRmsNorm(int rank, Matrix partial, Matrix residual, RmsNorm norm, Matrix normed) {
        throw new UnsupportedOperationException("no fused all-reduce + RMSNorm here");
    }

    /**
     * Rank {@code rank}'s fused all-reduce + residual add + RMSNorm as a kernel epilogue ({@link AllReduceEpilogue}),
     * numbered like {@link #enqueue}, where the backend has one and it is on; else null. Taken only for shapes
     * {@link #fusesAddRmsNorm} takes. The same answer for every rank.
     */
    default AllReduceEpilogue addRmsNormEpilogue(int rank) {
        return null;
    }

    /**
     * Readies the backend for all-reduces captured into CUDA graphs (allocations: call before any capture).
     * Backends that capture as they are, or never run on a GPU, do nothing.
     */
    default void prepareForGraphs() {
    }
}
