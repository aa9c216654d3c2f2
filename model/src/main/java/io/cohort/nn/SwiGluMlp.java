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
     * out = mlp(x), full on every rank; the SwiGLU is gate|up's epilogue ({@link ColumnParallelLinear#forwardSwiGlu}:
     * one GEMV on a GPU). gu is {@code [tokens, 2·intermediate/tp]} scratch (the unfused gate|up output), g
     * {@code [tokens, intermediate/tp]} the activation.
     */
    public void forward(TensorOps ops, Matrix x, Matrix gu, Matrix g, Matrix out) {
        gateUp.forwardSwiGlu(ops, x, null, null, gu, g);
        down.forward(ops, g, out);
    }

    /**
     * {@link #forward}, then {@code residual += mlp(x)}, {@code normed = norm(residual)} ({@link
     * RowParallelLinear#forwardAddNorm}: one fused collective at tp ≥ 2 where the backend has it).
     */
    public void forwardAddNorm(TensorOps ops, Matrix x, Matrix gu, Matrix g, Matrix out, Matrix residual, RmsNorm norm,
                               Matrix normed) {
        gateUp.forwardSwiGlu(ops, x, null, null, gu, g);
        down.forwardAddNorm(ops, g, out, residual, norm, normed);
    }

    /**
     * The block on the residual stream, norm included: {@code residual += mlp(norm(residual))} (the norm and the
     * SwiGLU in gate|up's GEMV, the add in down's: {@link ColumnParallelLinear#forwardSwiGlu},
     * {@link RowParallelLinear#forwardAdd}); normed, gu, g and out are scratch.
     */
    public void forwardResidual(TensorOps ops, Matrix residual, RmsNorm norm, Matrix normed, Matrix gu, Matrix g,
                                Matrix out) {
        gateUp.forwardSwiGlu(ops, residual, norm, normed, gu, g);
        down.forwardAdd(ops, g, out, residual);
    }
}
