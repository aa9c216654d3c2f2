package io.cohort.nn;

import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.p2p.CudaP2pBackend;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import io.cohort.device.Tensor;
import io.cohort.group.LocalGroup;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The layers' all-reduce carried by a {@link LocalGroup}: whatever backend the group chose (p2p, native, nccl),
 * on the group's own streams. Stream-ordered: each rank enqueues its own part through the backend
 * ({@link #enqueue}), numbered by its own counter (the ranks' n-th calls are collective n), so the ranks never
 * meet on the host. The group is this object's alone while it is used: the group's own collectives would reuse
 * those numbers.
 */
public final class LocalGroupAllReduce implements StreamOrderedAllReduce {
    private final LocalGroup group;
    // rank r's counter, touched only by rank r's thread (and by allReduceSum, which drives every rank itself)
    private final long[] seq;
    private final boolean fuse;
    private final boolean inGemv;

    public LocalGroupAllReduce(LocalGroup group) {
        this(group, !"false".equals(System.getProperty("cohort.fusedAllReduce")),
                "true".equals(System.getProperty("cohort.nn.arInGemv")));
    }

    /** {@code fuse}: use the backend's fused all-reduce + residual add + RMSNorm where it has one. */
    public LocalGroupAllReduce(LocalGroup group, boolean fuse) {
        this(group, fuse, false);
    }

    /**
     * {@code inGemv} (with fuse): run that fused collective as the epilogue of the row-parallel GEMV before it
     * ({@link #addRmsNormEpilogue}; {@code -Dcohort.nn.arInGemv=true}, off by default until measured).
     */
    public LocalGroupAllReduce(LocalGroup group, boolean fuse, boolean inGemv) {
        this.fuse = fuse;
        this.inGemv = fuse && inGemv;
        this.group = group;
        this.seq = new long[group.ranks()];
        long start = group.seq();
        Arrays.fill(seq, start);
    }

    @Override
    public int size() {
        return group.ranks();
    }

    @Override
    public DeviceStream stream(int rank) {
        return group.stream(rank);
    }

    @Override
    public void enqueue(int rank, Tensor tensor) {
        CollectiveCall call = CollectiveCall.allReduce(tensor.dtype(), ReduceOp.SUM, tensor.count());
        long next = seq[rank] + 1;
        group.backend().enqueue(rank, next, call, tensor.buffer(), tensor.buffer());
        seq[rank] = next; // only once enqueued: a refused call leaves the numbering alone
    }

    /**
     * The cuda-p2p backend fuses all-reduce, residual add and RMSNorm in one kernel (f32, messages that fit its
     * staging). {@code -Dcohort.fusedAllReduce=false} turns it off (the unfused path: all-reduce, then addRmsNorm).
     */
    @Override
    public boolean fusesAddRmsNorm(int rows, int cols) {
        return fuse && group.backend() instanceof CudaP2pBackend p2p && p2p.fusesAddRmsNorm(rows, cols);
    }

    @Override
    public void enqueueAddRmsNorm(int rank, Matrix partial, Matrix residual, RmsNorm norm, Matrix normed) {
        if (!(group.backend() instanceof CudaP2pBackend p2p)) {
            throw new UnsupportedOperationException("fused all-reduce + RMSNorm needs the cuda-p2p backend, not "
                    + group.backendChoice());
        }
        long next = seq[rank] + 1;
        p2p.enqueueAllReduceAddRmsNorm(rank, next, partial.buffer(), partial.rows(), partial.cols(), residual.buffer(),
                norm.weight().buffer(), norm.weight().dtype(), norm.eps(), normed.buffer());
        seq[rank] = next;
    }

    /** The cuda-p2p backend's fused all-reduce as a GEMV epilogue (gemv.cu, cohort_gemv_arnorm_*), where on. */
    @Override
    public AllReduceEpilogue addRmsNormEpilogue(int rank) {
        if (!inGemv || !(group.backend() instanceof CudaP2pBackend p2p)) {
            return null;
        }
        return new AllReduceEpilogue() {
            @Override
            public long argumentBytes() {
                return CudaP2pBackend.FUSED_ARGS_BYTES;
            }

            @Override
            public void bind(MemorySegment args, boolean graph, Matrix residual, RmsNorm norm, Matrix normed) {
                long next = seq[rank] + 1;
                p2p.bindAllReduceAddRmsNorm(rank, next, residual.rows(), residual.cols(), residual.buffer(),
                        norm.weight().buffer(), norm.weight().dtype(), norm.eps(), normed.buffer(), graph, args);
                seq[rank] = next;
            }
        };
    }

    /** Every rank's part from this thread (the backend may need them together), then waits for the group. */
    @Override
    public void allReduceSum(Tensor[] perRank) {
        if (perRank.length != size()) {
            throw new CohortException("all-reduce got " + perRank.length + " tensors for " + size() + " ranks");
        }
        long next = seq[0] + 1;
        for (int r = 1; r < seq.length; r++) {
            if (seq[r] + 1 != next) {
                throw new CohortException("all-reduce: rank " + r + " is at call " + seq[r] + ", rank 0 at " + seq[0]);
            }
        }
        Tensor first = perRank[0];
        CollectiveCall call = CollectiveCall.allReduce(first.dtype(), ReduceOp.SUM, first.count());
        DeviceBuffer[] buffers = new DeviceBuffer[perRank.length];
        for (int r = 0; r < perRank.length; r++) {
            if (perRank[r].count() != first.count() || perRank[r].dtype() != first.dtype()) {
                throw new CohortException("all-reduce: rank " + r + " passed " + perRank[r].count() + " x "
                        + perRank[r].dtype() + ", rank 0 passed " + first.count() + " x " + first.dtype());
            }
            buffers[r] = perRank[r].buffer();
        }
        group.backend().enqueueAll(next, call, buffers, buffers);
        Arrays.fill(seq, next);
        group.synchronize();
    }

    /** The cuda-p2p backend keeps graph launches' epochs on the device: its graph resources. */
    @Override
    public void prepareForGraphs() {
        if (group.backend() instanceof CudaP2pBackend p2p) {
            p2p.prepareGraphs();
        }
    }

    @Override
    public String describe() {
        return group.backendChoice().toString();
    }
}
