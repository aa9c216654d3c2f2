package io.cohort.nn;

/**
 * Causal self-attention with heads split across ranks (Megatron style): q/k/v are column-parallel (stacked
 * into one weight at load time, so one GEMM), so rank r computes the projections of its {@code heads/tp} query heads and {@code kvHeads/tp} key/value heads and runs
 * attention for them alone, against its own {@link KvCache}; the output projection is row-parallel and ends
 * with the block's only all-reduce. Grouped-query attention works unchanged because query head groups are
 * contiguous: the local query heads of rank r use exactly the local KV heads of rank r (with
 * {@code kvHeads % tp == 0}; when there are fewer KV heads than ranks each rank holds a replica of the one KV
 * head its query heads read).
 */
public final class ParallelAttention {
    private final ColumnParallelLinear qkv;
    private final RowParallelLinear o;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final Matrix rotary;
    private final KvCache cache;

    /**
     * {@code qkv}: this rank's q, k and v rows stacked (one GEMM); {@code heads}, {@code kvHeads}: this rank's
     * heads; {@code rotary}: {@link RotaryTable}.
     */
    public ParallelAttention(ColumnParallelLinear qkv, RowParallelLinear o, int heads, int kvHeads, int headDim,
                             Matrix rotary, KvCache cache) {
        if (qkv.outFeatures() != (heads + 2 * kvHeads) * headDim) {
            throw new IllegalArgumentException("attention shard: qkv has " + qkv.outFeatures() + " features for "
                    + heads + " heads / " + kvHeads + " kv heads of " + headDim);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " local query heads do not group over " + kvHeads + " kv heads");
        }
        this.qkv = qkv;
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

    /** Width of the fused projection's output: {@code (heads + 2 kvHeads) · headDim}. */
    public int localQkvWidth() {
        return qkv.outFeatures();
    }

    /**
     * out = attention(x) for tokens at positions {@code startPos..}; qkvs is {@code [tokens, localQkvWidth]}
     * scratch, qs/ctx {@code [tokens, heads·headDim]}, ks/vs {@code [tokens, kvHeads·headDim]}. One token reads
     * q, k and v straight out of qkvs (one row: contiguous); more are split into qs, ks, vs.
     */
    public void forward(TensorOps ops, Matrix x, int startPos, Matrix qkvs, Matrix qs, Matrix ks, Matrix vs,
                        Matrix ctx, Matrix out) {
        attend(ops, x, startPos, qkvs, qs, ks, vs, ctx);
        o.forward(ops, ctx, out);
    }

    /**
     * {@link #forward}, then the residual add and the norm after the block:
     * {@code residual += attention(x)}, {@code normed = norm(residual)} ({@link RowParallelLinear#forwardAddNorm}:
     * one fused collective where the backend has it).
     */
    public void forwardAddNorm(TensorOps ops, Matrix x, int startPos, Matrix qkvs, Matrix qs, Matrix ks, Matrix vs,
                               Matrix ctx, Matrix out, Matrix residual, RmsNorm norm, Matrix normed) {
        attend(ops, x, startPos, qkvs, qs, ks, vs, ctx);
        o.forwardAddNorm(ops, ctx, out, residual, norm, normed);
    }

    /**
     * The block on the residual stream, norm included: {@code residual += attention(norm(residual))} (the norm in
     * the qkv GEMV, the add in o's: {@link ColumnParallelLinear#forwardNormed}, {@link RowParallelLinear#forwardAdd});
     * normed ({@code [tokens, hidden]}) and out are scratch, the rest as in {@link #forward}.
     */
    public void forwardResidual(TensorOps ops, Matrix residual, RmsNorm norm, Matrix normed, int startPos, Matrix qkvs,
                                Matrix qs, Matrix ks, Matrix vs, Matrix ctx, Matrix out) {
        qkv.forwardNormed(ops, residual, norm, normed, qkvs);
        attendProjected(ops, residual.rows(), startPos, qkvs, qs, ks, vs, ctx);
        o.forwardAdd(ops, ctx, out, residual);
    }

    /** Everything before the output projection: ctx = this rank's heads' attention output. */
    private void attend(TensorOps ops, Matrix x, int startPos, Matrix qkvs, Matrix qs, Matrix ks, Matrix vs, Matrix ctx) {
        qkv.forward(ops, x, qkvs);
        attendProjected(ops, x.rows(), startPos, qkvs, qs, ks, vs, ctx);
    }

    /** Attention from the projections in qkvs ({@code rows} tokens) to ctx. */
    private void attendProjected(TensorOps ops, int rows, int startPos, Matrix qkvs, Matrix qs, Matrix ks, Matrix vs,
                                 Matrix ctx) {
        int qw = localQueryWidth(), kvw = localKvWidth();
        if (rows == 1) {
            qs = qkvs.columnsOfRow(0, qw);
            ks = qkvs.columnsOfRow(qw, kvw);
            vs = qkvs.columnsOfRow(qw + kvw, kvw);
        } else {
            ops.copyColumns(qkvs, 0, qs);
            ops.copyColumns(qkvs, qw, ks);
            ops.copyColumns(qkvs, qw + kvw, vs);
        }
        // rotary, KV write and attention as one op (TensorOps.rotaryAttention: one kernel on a GPU for steps of up
        // to CudaAttention.SPLIT_MAX_ROWS rows, else, and on the host, rotaryKvWrite then attention)
        cache.rotateWriteAttend(startPos, qs, ks, vs, heads, kvHeads, headDim, rotary, ctx);
    }
}
