package io.cohort.nn;

import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.group.LocalGroup;

/**
 * The layers' all-reduce carried by a {@link LocalGroup}: whatever backend the group chose (p2p, native, nccl),
 * on the group's own streams. {@link TpGroup} has synchronized every rank's compute before the call, and the
 * call waits for the group's streams, so the compute that follows reads finished sums.
 */
public final class LocalGroupAllReduce implements AllReduceGroup {
    private final LocalGroup group;

    public LocalGroupAllReduce(LocalGroup group) {
        this.group = group;
    }

    @Override
    public int size() {
        return group.ranks();
    }

    @Override
    public void allReduceSum(Tensor[] perRank) {
        group.allReduceSync(perRank, ReduceOp.SUM);
    }

    @Override
    public String describe() {
        return group.backendChoice().toString();
    }
}
