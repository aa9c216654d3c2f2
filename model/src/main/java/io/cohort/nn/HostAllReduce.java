package io.cohort.nn;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.device.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * The simplest correct all-reduce over host-accessible tensors: each element is summed in f32 in rank order
 * and written back to every rank, rounded once. A reference for tests and the fallback when no collective
 * backend is wired in; the real backends come from {@code io.cohort.group.LocalGroup}.
 */
public final class HostAllReduce implements AllReduceGroup {
    private final int size;

    public HostAllReduce(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("group size " + size);
        }
        this.size = size;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void allReduceSum(Tensor[] perRank) {
        if (perRank.length != size) {
            throw new CohortException("all-reduce got " + perRank.length + " tensors for " + size + " ranks");
        }
        Tensor first = perRank[0];
        MemorySegment[] segs = new MemorySegment[size];
        for (int r = 0; r < size; r++) {
            Tensor t = perRank[r];
            if (t.count() != first.count() || t.dtype() != first.dtype()) {
                throw new CohortException("all-reduce: rank " + r + " passed " + t.count() + " x " + t.dtype()
                        + ", rank 0 passed " + first.count() + " x " + first.dtype());
            }
            if (!t.buffer().isHostAccessible()) {
                throw new CohortException("host all-reduce: rank " + r + "'s tensor on " + t.device().name()
                        + " is not host-accessible; use a collective backend");
            }
            segs[r] = t.buffer().segment();
        }
        DType dtype = first.dtype();
        for (long i = 0; i < first.count(); i++) {
            float sum = 0;
            for (int r = 0; r < size; r++) {
                sum += dtype.get(segs[r], i);
            }
            for (int r = 0; r < size; r++) {
                dtype.set(segs[r], i, sum);
            }
        }
    }

    @Override
    public String describe() {
        return "host reference all-reduce (f32 sums in rank order)";
    }
}
