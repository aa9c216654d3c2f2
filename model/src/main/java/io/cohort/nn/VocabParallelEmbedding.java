package io.cohort.nn;

/**
 * Token embedding with the vocabulary split across ranks (Megatron style): rank r holds the rows of its
 * {@link Partition} of the vocabulary, writes the rows of tokens it owns and zeros elsewhere, and an all-reduce
 * assembles the full embeddings on every rank. Memory per rank: vocab/tp rows instead of vocab.
 */
public final class VocabParallelEmbedding {
    private final Matrix table;
    private final Partition vocab;
    private final TpComm comm;

    public VocabParallelEmbedding(Matrix table, Partition vocab, TpComm comm) {
        if (table.rows() != vocab.length()) {
            throw new IllegalArgumentException("embedding shard has " + table.rows() + " rows for vocab slice " + vocab);
        }
        this.table = table;
        this.vocab = vocab;
        this.comm = comm;
    }

    public Matrix table() {
        return table;
    }

    public Partition vocab() {
        return vocab;
    }

    public void forward(TensorOps ops, int[] tokens, Matrix out) {
        ops.embed(table, vocab.start(), tokens, out);
        if (comm.size() > 1) {
            comm.allReduceSum(out.tensor());
        }
    }
}
