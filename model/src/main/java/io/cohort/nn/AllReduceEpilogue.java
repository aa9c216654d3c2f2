package io.cohort.nn;

import java.lang.foreign.MemorySegment;

/**
 * One rank's fused all-reduce + residual add + RMSNorm ({@link TpComm#allReduceAddRmsNorm}) run as the epilogue of a
 * kernel of the rank's own (the row-parallel GEMV before it: {@link TensorOps#matmulTAllReduceAddRmsNorm}), so the
 * collective costs no launch of its own. The backend writes its arguments into the kernel's; the kernel's last
 * block runs it. Bound once per rank, called once per collective: it allocates nothing.
 */
public interface AllReduceEpilogue {

    /** Bytes of the arguments {@link #bind} writes. */
    long argumentBytes();

    /**
     * Takes this rank's next collective number (the ranks' n-th collectives make one, as for every stream-ordered
     * all-reduce) and writes its arguments at the start of {@code args}, for the kernel the caller launches next,
     * on a stream ordered after the rank's earlier collectives; {@code graph}: that stream is being captured.
     */
    void bind(MemorySegment args, boolean graph, Matrix residual, RmsNorm norm, Matrix normed);
}
