package io.cohort.nn;

/**
 * Causal self-attention with heads split across ranks (Megatron style): q/k/v are column-parallel, so rank r
 * computes the projections of its {@code heads/tp} query heads and {@code kvHeads/tp} key/value heads and runs
 * attention for them alone, against its own {@link KvCache}; the output projection is row-parallel and ends
 * with the block's only all-reduce. Grouped-query attention works unchanged because query head groups are
 * contiguous: the local query heads of rank r use exactly the local KV heads of rank r (with
 * {@code kvHeads % tp == 0}; when there are fewer KV heads than ranks each rank holds a replica of the one KV
 * head its query heads read).
 */
public final class ParallelAttention {
    private final ColumnParallelLinear q;
    private final ColumnParallelLinear k;
    private final ColumnParallelLinear v;
    private final RowParallelLinear o;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final Matrix rotary;
    private final KvCache cache;

    /** {@code heads}, {@code kvHeads}: this rank's heads; {@code rotary}: {@link RotaryTable}. */
    public ParallelAttention(ColumnParallelLinear q, ColumnParallelLinear k, ColumnParallelLinear v,
                             RowParallelLinear o, int heads, int kvHeads, int headDim, Matrix rotary, KvCache cache) {
        if (q.outFeatures() != heads * headDim || k.outFeatures() != kvHeads * headDim
                || v.outFeatures() != kvHeads * headDim) {
            throw new IllegalArgumentException("attention shards: q " + q.outFeatures() + ", k " + k.outFeatures()
                    + ", v " + v.outFeatures() + " features for " + heads + " heads / " + kvHeads
                    + " kv heads of " + headDim);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " local query heads do not group over " + kvHeads + " kv heads");
        }
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.rotary = rotary;
        this.cache = cache;
    }

    public int localQueryWidth() {
        return heads * headDim;
    }

    public int localKvWidth() {
        return kvHeads * headDim;
    }

    public KvCache cache() {
        return cache;
    }

    /**
     * out = attention(x) for tokens at positions {@code startPos..}; qs/ctx are {@code [tokens, heads·headDim]}
     * scratch, ks/vs {@code [tokens, kvHeads·headDim]}.
     */
    public void forward(TensorOps ops, Matrix x, int startPos, Matrix qs, Matrix ks, Matrix vs, Matrix ctx,
                        Matrix out) {
        q.forward(ops, x, qs);
        k.forward(ops, x, ks);
        v.forward(ops, x, vs);
        ops.rotary(qs, heads, headDim, startPos, rotary);
        ops.rotary(ks, kvHeads, headDim, startPos, rotary);
        cache.write(startPos, ks, vs);
        ops.attention(qs, cache.keys(), cache.values(), heads, kvHeads, headDim, startPos, ctx);
        o.forward(ops, ctx, out);
    }
}
