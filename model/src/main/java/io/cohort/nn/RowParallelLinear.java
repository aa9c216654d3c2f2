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
     * {@code normed = norm(residual)}. One collective where the backend fuses them ({@link TpComm#allReduceAddRmsNorm}:
     * cuda-p2p at tp ≥ 2), else the all-reduce then {@link RmsNorm#addForward}. out is the product's scratch.
     */
    public void forwardAddNorm(TensorOps ops, Matrix x, Matrix out, Matrix residual, RmsNorm norm, Matrix normed) {
        ops.matmulT(x, weight, out);
        if (comm.size() > 1) {
            if (comm.allReduceAddRmsNorm(out, residual, norm, normed)) {
                return;
            }
            comm.allReduceSum(out.tensor());
        }
        norm.addForward(ops, residual, out, normed);
    }

    /** out ({@code [tokens, n]}, full on every rank) = all-reduce(x_r · W_rᵀ). */
    public void forward(TensorOps ops, Matrix x, Matrix out) {
        ops.matmulT(x, weight, out);
        if (comm.size() > 1) {
            comm.allReduceSum(out.tensor());
        }
    }
}
