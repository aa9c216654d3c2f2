package io.cohort.model;

import io.cohort.core.DType;
import io.cohort.nn.ColumnParallelLinear;
import io.cohort.nn.KvCache;
import io.cohort.nn.Matrix;
import io.cohort.nn.ParallelAttention;
import io.cohort.nn.Partition;
import io.cohort.nn.RmsNorm;
import io.cohort.nn.RotaryTable;
import io.cohort.nn.RowParallelLinear;
import io.cohort.nn.SwiGluMlp;
import io.cohort.nn.TensorOps;
import io.cohort.nn.TpComm;
import io.cohort.nn.VocabParallelEmbedding;
import io.cohort.nn.VocabParallelLmHead;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One rank's part of a Llama decoder, run SPMD: every rank calls {@link #forward} with the same tokens on its
 * own thread and meets the others in the all-reduces (two per layer, one after the embedding). Activations are
 * f32; weights stay in the checkpoint's dtype. Activation memory is a workspace for {@code maxBatch} tokens,
 * allocated once; longer inputs are the caller's to split (chunked prefill).
 */
public final class LlamaRank implements AutoCloseable {
    private static final DType ACT = DType.F32;

    private final LlamaConfig config;
    private final TensorOps ops;
    private final int maxBatch;
    private final int tp;
    private final Map<String, Matrix> weights;
    private final VocabParallelEmbedding embedding;
    private final List<Layer> layers = new ArrayList<>();
    private final RmsNorm finalNorm;
    private final VocabParallelLmHead head;
    private final Matrix rotary;
    private final List<KvCache> caches = new ArrayList<>();
    // workspace, reused by every layer
    private final Matrix x, normed, qkv, q, k, v, ctx, proj, gateUp, gate, logits;

    /** Which positions' logits a forward pass computes. */
    public enum Logits {
        NONE, LAST, ALL
    }

    private record Layer(RmsNorm attnNorm, ParallelAttention attention, RmsNorm mlpNorm, SwiGluMlp mlp) {
    }

    /**
     * {@code weights}: this rank's slices by checkpoint name ({@link LlamaWeights#specs}), q/k/v and gate/up
     * stacked under {@link LlamaWeights#qkv} and {@link LlamaWeights#gateUp} ({@link LlamaWeights#fusions}).
     */
    public LlamaRank(LlamaConfig c, TpComm comm, TensorOps ops, Map<String, Matrix> weights, int maxSeq, int maxBatch) {
        this.config = c;
        this.ops = ops;
        this.maxBatch = maxBatch;
        this.weights = weights;
        this.tp = comm.size();
        int rank = comm.rank();
        float eps = (float) c.rmsNormEps();
        Partition vocab = c.vocab(tp, rank);
        int heads = c.queryHeads(tp, rank).length();
        int kvHeads = c.kvHeadsOf(tp, rank).length();
        int d = c.headDim();
        int ffn = c.intermediate(tp, rank).length();
        this.rotary = RotaryTable.create(ops, Math.min(maxSeq, c.maxPositions()), d, c.ropeTheta());
        this.embedding = new VocabParallelEmbedding(w(LlamaWeights.EMBED), vocab, comm);
        for (int i = 0; i < c.layers(); i++) {
            KvCache cache = new KvCache(ops, ACT, Math.min(maxSeq, c.maxPositions()), kvHeads * d);
            caches.add(cache);
            ParallelAttention attention = new ParallelAttention(
                    new ColumnParallelLinear(w(LlamaWeights.qkv(i))),
                    new RowParallelLinear(w(LlamaWeights.layer(i, "self_attn.o_proj.weight")), comm),
                    heads, kvHeads, d, rotary, cache);
            SwiGluMlp mlp = new SwiGluMlp(
                    new ColumnParallelLinear(w(LlamaWeights.gateUp(i))),
                    new RowParallelLinear(w(LlamaWeights.layer(i, "mlp.down_proj.weight")), comm));
            layers.add(new Layer(new RmsNorm(w(LlamaWeights.layer(i, "input_layernorm.weight")), eps), attention,
                    new RmsNorm(w(LlamaWeights.layer(i, "post_attention_layernorm.weight")), eps), mlp));
        }
        this.finalNorm = new RmsNorm(w(LlamaWeights.FINAL_NORM), eps);
        Matrix headWeight = weights.containsKey(LlamaWeights.LM_HEAD) ? w(LlamaWeights.LM_HEAD) : w(LlamaWeights.EMBED);
        this.head = new VocabParallelLmHead(headWeight, vocab);
        int h = c.hiddenSize();
        this.x = ops.allocate(ACT, maxBatch, h);
        this.normed = ops.allocate(ACT, maxBatch, h);
        this.qkv = ops.allocate(ACT, maxBatch, (heads + 2 * kvHeads) * d);
        this.q = ops.allocate(ACT, maxBatch, heads * d);
        this.k = ops.allocate(ACT, maxBatch, kvHeads * d);
        this.v = ops.allocate(ACT, maxBatch, kvHeads * d);
        this.ctx = ops.allocate(ACT, maxBatch, heads * d);
        this.proj = ops.allocate(ACT, maxBatch, h);
        this.gateUp = ops.allocate(ACT, maxBatch, 2 * ffn);
        this.gate = ops.allocate(ACT, maxBatch, ffn);
        this.logits = ops.allocate(ACT, maxBatch, vocab.length());
    }

    private Matrix w(String name) {
        Matrix m = weights.get(name);
        if (m == null) {
            throw new ModelException("rank weights lack '" + name + "'");
        }
        return m;
    }

    /** Bytes of this rank's weights: what one decode step streams from its device's memory. */
    public long weightBytes() {
        return weights.values().stream().mapToLong(Matrix::byteSize).sum();
    }

    public Partition vocab() {
        return head.vocab();
    }

    public TensorOps ops() {
        return ops;
    }

    public int maxBatch() {
        return maxBatch;
    }

    /**
     * Runs {@code tokens} (at most maxBatch) at positions {@code startPos..} and returns this rank's logits
     * slice ({@code [rows, vocab/tp]} f32 on the device) for the positions {@code wanted} names (null for
     * {@link Logits#NONE}: an early chunk of a long prompt only fills the KV cache). The view is valid until
     * the next call.
     */
    public Matrix forward(int[] tokens, int startPos, Logits wanted) {
        int t = tokens.length;
        if (t == 0 || t > maxBatch) {
            throw new IllegalArgumentException("forward takes 1.." + maxBatch + " tokens, got " + t);
        }
        Matrix xs = x.firstRows(t), ns = normed.firstRows(t), ps = proj.firstRows(t);
        embedding.forward(ops, tokens, xs);
        if (tp == 1) {
            return forwardResidual(t, startPos, wanted, xs, ns, ps);
        }
        // the residual add after each block is fused with the norm that follows it (the next layer's
        // attention norm, or the final norm), so each layer launches two norms, not two norms and two adds; at
        // tp >= 2 on cuda-p2p the block's all-reduce joins them too (one kernel: all-reduce, add, norm)
        layers.getFirst().attnNorm.forward(ops, xs, ns);
        for (int i = 0; i < layers.size(); i++) {
            Layer layer = layers.get(i);
            layer.attention.forwardAddNorm(ops, ns, startPos, qkv.firstRows(t), q.firstRows(t), k.firstRows(t),
                    v.firstRows(t), ctx.firstRows(t), ps, xs, layer.mlpNorm, ns);
            Matrix gus = gateUp.firstRows(t), gs = gate.firstRows(t);
            if (i + 1 < layers.size()) {
                layer.mlp.forwardAddNorm(ops, ns, gus, gs, ps, xs, layers.get(i + 1).attnNorm, ns);
            } else if (wanted != Logits.NONE) {
                layer.mlp.forwardAddNorm(ops, ns, gus, gs, ps, xs, finalNorm, ns);
            } else {   // without logits the last residual is never read
                layer.mlp.forward(ops, ns, gus, gs, ps);
            }
        }
        if (wanted == Logits.NONE) {
            return null;
        }
        Matrix normedLast = wanted == Logits.ALL ? ns : ns.rows(t - 1, 1);
        Matrix out = logits.firstRows(normedLast.rows());
        head.forward(ops, normedLast, out);
        return out;
    }

    /**
     * tp = 1: each norm goes into the projection after it, each residual add into the projection before it
     * ({@link ParallelAttention#forwardResidual}, {@link SwiGluMlp#forwardResidual}), so on a GPU a decode layer is
     * qkv (norm) -> rotary + KV write -> attention -> o (add) -> gate|up (norm) -> SwiGLU -> down (add), with no
     * norm or add kernel between them (at tp >= 2 the all-reduce sits between the product and the add).
     */
    private Matrix forwardResidual(int t, int startPos, Logits wanted, Matrix xs, Matrix ns, Matrix ps) {
        Matrix gus = gateUp.firstRows(t), gs = gate.firstRows(t);
        for (Layer layer : layers) {
            layer.attention.forwardResidual(ops, xs, layer.attnNorm, ns, startPos, qkv.firstRows(t), q.firstRows(t),
                    k.firstRows(t), v.firstRows(t), ctx.firstRows(t), ps);
            layer.mlp.forwardResidual(ops, xs, layer.mlpNorm, ns, gus, gs, ps);
        }
        if (wanted == Logits.NONE) {
            return null;
        }
        Matrix last = wanted == Logits.ALL ? xs : xs.rows(t - 1, 1);
        Matrix out = logits.firstRows(last.rows());
        head.forwardNormed(ops, last, finalNorm, wanted == Logits.ALL ? ns : ns.rows(t - 1, 1), out);
        return out;
    }

    @Override
    public void close() {
        for (Matrix m : List.of(x, normed, qkv, q, k, v, ctx, proj, gateUp, gate, logits, rotary)) {
            ops.free(m);
        }
        caches.forEach(KvCache::close);
        weights.values().forEach(ops::free);
    }
}
