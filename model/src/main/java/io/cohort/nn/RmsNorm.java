package io.cohort.nn;

/** RMSNorm with a learned scale, replicated on every rank (it sees the full hidden vector). */
public final class RmsNorm {
    private final Matrix weight;
    private final float eps;

    public RmsNorm(Matrix weight, float eps) {
        this.weight = weight;
        this.eps = eps;
    }

    public Matrix weight() {
        return weight;
    }

    public float eps() {
        return eps;
    }

    public void forward(TensorOps ops, Matrix x, Matrix out) {
        ops.rmsNorm(x, weight, eps, out);
    }

    /** The residual add before this norm, fused: {@code x += delta; out = norm(x)}. */
    public void addForward(TensorOps ops, Matrix x, Matrix delta, Matrix out) {
        ops.addRmsNorm(x, delta, weight, eps, out);
    }
}
