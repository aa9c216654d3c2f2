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
}
