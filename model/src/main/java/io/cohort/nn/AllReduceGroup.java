package io.cohort.nn;

import io.cohort.device.Tensor;

/**
 * The seam between the tensor-parallel layers and whatever carries out the all-reduce: one call with every
 * rank's tensor, the way a single-process group (io.cohort.group.LocalGroup) takes it. On return every tensor
 * holds the element-wise sum over all ranks and the work is complete.
 */
public interface AllReduceGroup {

    /** Ranks in the group; {@code perRank.length} of every call. */
    int size();

    /** In place: {@code perRank[r] = sum over all ranks}, for every r; complete on return. */
    void allReduceSum(Tensor[] perRank);

    /** What carries the all-reduce, for logs and the bench table. */
    String describe();
}
