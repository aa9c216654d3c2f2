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

    /**
     * out = norm(x) · this rank's weightᵀ, x the raw residual stream ({@link TensorOps#rmsNormMatmulT}: a GPU
     * applies the norm in the GEMV's prologue); normed ({@code [tokens, k]}) is scratch.
     */
    public void forwardNormed(TensorOps ops, Matrix x, RmsNorm norm, Matrix normed, Matrix out) {
        ops.rmsNormMatmulT(x, norm.weight(), norm.eps(), normed, weight, out);
    }

    /**
     * g = silu(gate) * up of {@code norm(x)} (or of x when norm is null) with this weight the stacked gate|up
     * ({@link TensorOps#rmsNormMatmulTSwiGlu}, {@link TensorOps#matmulTSwiGlu}: a GPU applies the SwiGLU in the
     * GEMV's epilogue); normed and gu ({@code [tokens, n/tp]}) are scratch.
     */
    public void forwardSwiGlu(TensorOps ops, Matrix x, RmsNorm norm, Matrix normed, Matrix gu, Matrix g) {
        if (norm == null) {
            ops.matmulTSwiGlu(x, weight, gu, g);
        } else {
            ops.rmsNormMatmulTSwiGlu(x, norm.weight(), norm.eps(), normed, weight, gu, g);
        }
    }
}
