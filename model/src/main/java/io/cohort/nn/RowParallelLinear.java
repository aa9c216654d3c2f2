package io.cohort.nn;

/**
 * {@code y = x · Wᵀ} with W split by input columns: rank r holds columns {@code [r·k/tp, (r+1)·k/tp)} of the
 * {@code [n, k]} weight and multiplies the matching slice of x (what a {@link ColumnParallelLinear} left on it).
 * Each rank's product is a partial sum of y; one all-reduce makes y whole and identical on every rank.
 */
public final class RowParallelLinear {
    private final Matrix weight;
    private final TpComm comm;

    /** {@code weight}: this rank's {@code [n, k/tp]} columns. */
    public RowParallelLinear(Matrix weight, TpComm comm) {
        this.weight = weight;
        this.comm = comm;
    }

    public Matrix weight() {
        return weight;
    }

    /**
     * The product, its all-reduce and the residual add + norm after it: {@code residual += all-reduce(x_r · W_rᵀ)},
     * {@code normed = norm(residual)}. At tp = 1 one op, {@link TensorOps#matmulTAddRmsNorm} (a GPU folds the add and
     * the norm into the GEMV). At tp ≥ 2 one kernel where the group runs that collective as the GEMV's epilogue
     * ({@link TpComm#matmulTAllReduceAddRmsNorm}), else the product and one collective where the backend fuses them
     * ({@link TpComm#allReduceAddRmsNorm}: cuda-p2p), else the all-reduce then {@link RmsNorm#addForward}. out is
     * the product's scratch.
     */
    public void forwardAddNorm(TensorOps ops, Matrix x, Matrix out, Matrix residual, RmsNorm norm, Matrix normed) {
        if (comm.size() == 1) {
            ops.matmulTAddRmsNorm(x, weight, out, residual, norm.weight(), norm.eps(), normed);
            return;
        }
        if (comm.matmulTAllReduceAddRmsNorm(ops, x, weight, residual, norm, normed)) {
            return;
        }
        ops.matmulT(x, weight, out);
        if (comm.allReduceAddRmsNorm(out, residual, norm, normed)) {
            return;
        }
        comm.allReduceSum(out.tensor());
        norm.addForward(ops, residual, out, normed);
    }

    /**
     * {@code residual += all-reduce(x_r · W_rᵀ)}, the norm left to the next projection ({@link
     * ColumnParallelLinear#forwardNormed}). At tp = 1 one op, {@link TensorOps#matmulTAdd} (a GPU adds in the
     * GEMV's epilogue); else the product, its all-reduce, then the add. out is the product's scratch.
     */
    public void forwardAdd(TensorOps ops, Matrix x, Matrix out, Matrix residual) {
        if (comm.size() == 1) {
            ops.matmulTAdd(x, weight, out, residual);
            return;
        }
        forward(ops, x, out);
        ops.add(residual, out, residual);
    }

    /** out ({@code [tokens, n]}, full on every rank) = all-reduce(x_r · W_rᵀ). */
    public void forward(TensorOps ops, Matrix x, Matrix out) {
        ops.matmulT(x, weight, out);
        if (comm.size() > 1) {
            comm.allReduceSum(out.tensor());
        }
    }
}
