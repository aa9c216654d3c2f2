package io.cohort.nn;

/**
 * Llama's feed-forward block {@code down(silu(gate(x)) * up(x))}, tensor-parallel: gate and up are
 * column-parallel (stacked into one weight at load time, one GEMM) (each rank computes its slice of the intermediate features), the element-wise product
 * needs no communication, down is row-parallel and ends with the block's only all-reduce.
 */
public final class SwiGluMlp {
    private final ColumnParallelLinear gateUp;
    private final RowParallelLinear down;

    /** {@code gateUp}: this rank's gate rows then its up rows, stacked at load time (one GEMM). */
    public SwiGluMlp(ColumnParallelLinear gateUp, RowParallelLinear down) {
        if (gateUp.outFeatures() % 2 != 0 || gateUp.outFeatures() / 2 != down.weight().cols()) {
            throw new IllegalArgumentException("gate/up shard of " + gateUp.outFeatures() + " features for a down shard of "
                    + down.weight().cols() + " inputs");
        }
        this.gateUp = gateUp;
        this.down = down;
    }

    /** Local intermediate features (intermediate_size / tp). */
    public int localIntermediate() {
        return gateUp.outFeatures() / 2;
    }

    /**
     * out = mlp(x), full on every rank (the SwiGLU inside down's product: {@link TensorOps#siluMatmulT}); gu is {@code [tokens, 2·intermediate/tp]} scratch (the fused gate|up
     * output), g {@code [tokens, intermediate/tp]}.
     */
    public void forward(TensorOps ops, Matrix x, Matrix gu, Matrix g, Matrix out) {
        gateUp.forward(ops, x, gu);
        down.forwardSilu(ops, gu, g, out);
    }

    /**
     * {@link #forward}, then {@code residual += mlp(x)}, {@code normed = norm(residual)} ({@link
     * RowParallelLinear#forwardSiluAddNorm}: at tp = 1 one GEMV with the SwiGLU, the add and the norm on a GPU; at
     * tp ≥ 2 one fused collective where the backend has it).
     */
    public void forwardAddNorm(TensorOps ops, Matrix x, Matrix gu, Matrix g, Matrix out, Matrix residual, RmsNorm norm,
                               Matrix normed) {
        gateUp.forward(ops, x, gu);
        down.forwardSiluAddNorm(ops, gu, g, out, residual, norm, normed);
    }

    /**
     * The block on the residual stream, norm included: {@code residual += mlp(norm(residual))} (the norm in gate|up's
     * GEMV, the add in down's: {@link ColumnParallelLinear#forwardNormed}, {@link RowParallelLinear#forwardSiluAdd});
     * normed, gu, g and out are scratch.
     */
    public void forwardResidual(TensorOps ops, Matrix residual, RmsNorm norm, Matrix normed, Matrix gu, Matrix g,
                                Matrix out) {
        gateUp.forwardNormed(ops, residual, norm, normed, gu);
        down.forwardSiluAdd(ops, gu, g, out, residual);
    }
}
