package io.cohort.nn;

/**
 * The output projection with the vocabulary split across ranks: rank r computes the logits of its
 * {@link Partition} of the vocabulary ({@code [tokens, vocab/tp]}). The logits are not all-gathered on the
 * devices: they go to the host anyway (sampling, printing), so the caller concatenates the ranks' slices there.
 * With tied embeddings the weight is the {@link VocabParallelEmbedding}'s own shard (same partition).
 */
public final class VocabParallelLmHead {
    private final ColumnParallelLinear projection;
    private final Partition vocab;

    public VocabParallelLmHead(Matrix weight, Partition vocab) {
        if (weight.rows() != vocab.length()) {
            throw new IllegalArgumentException("LM head shard has " + weight.rows() + " rows for vocab slice " + vocab);
        }
        this.projection = new ColumnParallelLinear(weight);
        this.vocab = vocab;
    }

    public Partition vocab() {
        return vocab;
    }

    public void forward(TensorOps ops, Matrix hidden, Matrix logits) {
        projection.forward(ops, hidden, logits);
    }

    /** logits of {@code norm(residual)} ({@link ColumnParallelLinear#forwardNormed}; normed is scratch). */
    public void forwardNormed(TensorOps ops, Matrix residual, RmsNorm norm, Matrix normed, Matrix logits) {
        projection.forwardNormed(ops, residual, norm, normed, logits);
    }
}
