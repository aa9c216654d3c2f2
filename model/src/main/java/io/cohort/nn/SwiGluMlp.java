package io.cohort.nn;

/**
 * Llama's feed-forward block {@code down(silu(gate(x)) * up(x))}, tensor-parallel: gate and up are
 * column-parallel (each rank computes its slice of the intermediate features), the element-wise product
 * needs no communication, down is row-parallel and ends with the block's only all-reduce.
 */
public final class SwiGluMlp {
    private final ColumnParallelLinear gate;
    private final ColumnParallelLinear up;
    private final RowParallelLinear down;

    public SwiGluMlp(ColumnParallelLinear gate, ColumnParallelLinear up, RowParallelLinear down) {
        if (gate.outFeatures() != up.outFeatures()) {
            throw new IllegalArgumentException("gate and up shards differ: " + gate.outFeatures() + " vs " + up.outFeatures());
        }
        this.gate = gate;
        this.up = up;
        this.down = down;
    }

    /** Local intermediate features (intermediate_size / tp). */
    public int localIntermediate() {
        return gate.outFeatures();
    }

    /** out = mlp(x), full on every rank; g and u are {@code [tokens, intermediate/tp]} scratch. */
    public void forward(TensorOps ops, Matrix x, Matrix g, Matrix u, Matrix out) {
        gate.forward(ops, x, g);
        up.forward(ops, x, u);
        ops.siluMul(g, u, g);
        down.forward(ops, g, out);
    }
}
