package io.cohort.nn;

/**
 * {@code y = x · Wᵀ} with W split by output rows: rank r holds rows {@code [r·n/tp, (r+1)·n/tp)} of the
 * {@code [n, k]} weight and produces those output columns from the full input. No communication: the output
 * stays split across ranks (the input of a {@link RowParallelLinear} or of per-rank attention heads).
 */
public final class ColumnParallelLinear {
    private final Matrix weight;

    /** {@code weight}: this rank's {@code [n/tp, k]} rows. */
    public ColumnParallelLinear(Matrix weight) {
        this.weight = weight;
    }

    public Matrix weight() {
        return weight;
    }

    public int outFeatures() {
        return weight.rows();
    }

    /** out ({@code [tokens, n/tp]}) = x ({@code [tokens, k]}) · this rank's weightᵀ. */
    public void forward(TensorOps ops, Matrix x, Matrix out) {
        ops.matmulT(x, weight, out);
    }
}
