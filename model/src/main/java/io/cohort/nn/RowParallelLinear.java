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

    /** out ({@code [tokens, n]}, full on every rank) = all-reduce(x_r · W_rᵀ). */
    public void forward(TensorOps ops, Matrix x, Matrix out) {
        ops.matmulT(x, weight, out);
        if (comm.size() > 1) {
            comm.allReduceSum(out.tensor());
        }
    }
}
