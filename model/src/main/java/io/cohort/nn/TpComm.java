package io.cohort.nn;

import io.cohort.device.Tensor;

/**
 * One rank's view of its tensor-parallel group, as the layers see it (SPMD: every rank runs the same layer code
 * on its own thread and calls {@link #allReduceSum} at the same points, in the same order).
 */
public interface TpComm {

    int rank();

    int size();

    /** Sums {@code tensor} over all ranks in place; returns when every rank's result is complete. */
    void allReduceSum(Tensor tensor);

    /**
     * Where the group's backend fuses them (cuda-p2p): sums {@code partial} (f32) over all ranks into the
     * residual ({@code residual += Σ partial}) and writes {@code normed = rmsNorm(residual)} in one collective,
     * identical on every rank, and returns true; partial is left unspecified. Otherwise does nothing and returns
     * false, and the caller all-reduces, then adds and norms. Every rank gets the same answer for the same shapes.
     */
    default boolean allReduceAddRmsNorm(Matrix partial, Matrix residual, RmsNorm norm, Matrix normed) {
        return false;
    }

    /**
     * The row-parallel product and that fused collective in one kernel where the group and the device have it
     * (the GEMV's last block runs the all-reduce: {@link TensorOps#matmulTAllReduceAddRmsNorm}):
     * {@code residual += Σ x_r · w_rᵀ}, {@code normed = rmsNorm(residual)}, identical on every rank, and returns true.
     * Otherwise does nothing and returns false. Every rank gets the same answer for the same shapes.
     */
    default boolean matmulTAllReduceAddRmsNorm(TensorOps ops, Matrix x, Matrix w, Matrix residual, RmsNorm norm,
                                               Matrix normed) {
        return false;
    }
}
