package io.cohort.model;

import io.cohort.nn.Partition;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a Llama checkpoint under Hugging Face's names, and how tensor parallelism splits each one
 * (Megatron's scheme): q/k/v, gate and up by output rows (column-parallel); o and down by input columns
 * (row-parallel); embedding and LM head by vocabulary rows; norms replicated.
 */
public final class LlamaWeights {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private LlamaWeights() {
    }

    public static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }

    /** What rank {@code rank} of {@code tp} loads, in checkpoint order (embedding, layers, norm, head). */
    public static List<WeightSpec> specs(LlamaConfig c, int tp, int rank, boolean separateLmHead) {
        c.checkTensorParallel(tp);
        int h = c.hiddenSize();
        int d = c.headDim();
        Partition qRows = scaled(c.queryHeads(tp, rank), d);
        Partition kvRows = scaled(c.kvHeadsOf(tp, rank), d);
        Partition ffn = c.intermediate(tp, rank);
        Partition vocab = c.vocab(tp, rank);
        List<WeightSpec> specs = new ArrayList<>();
        specs.add(new WeightSpec(EMBED, c.vocabSize(), h, new Split.Rows(vocab)));
        for (int i = 0; i < c.layers(); i++) {
            specs.add(new WeightSpec(layer(i, "input_layernorm.weight"), 1, h, Split.replicated()));
            specs.add(new WeightSpec(layer(i, "self_attn.q_proj.weight"), c.heads() * d, h, new Split.Rows(qRows)));
            specs.add(new WeightSpec(layer(i, "self_attn.k_proj.weight"), c.kvHeads() * d, h, new Split.Rows(kvRows)));
            specs.add(new WeightSpec(layer(i, "self_attn.v_proj.weight"), c.kvHeads() * d, h, new Split.Rows(kvRows)));
            specs.add(new WeightSpec(layer(i, "self_attn.o_proj.weight"), h, c.heads() * d, new Split.Cols(qRows)));
            specs.add(new WeightSpec(layer(i, "post_attention_layernorm.weight"), 1, h, Split.replicated()));
            specs.add(new WeightSpec(layer(i, "mlp.gate_proj.weight"), c.intermediateSize(), h, new Split.Rows(ffn)));
            specs.add(new WeightSpec(layer(i, "mlp.up_proj.weight"), c.intermediateSize(), h, new Split.Rows(ffn)));
            specs.add(new WeightSpec(layer(i, "mlp.down_proj.weight"), h, c.intermediateSize(), new Split.Cols(ffn)));
        }
        specs.add(new WeightSpec(FINAL_NORM, 1, h, Split.replicated()));
        if (separateLmHead) {
            specs.add(new WeightSpec(LM_HEAD, c.vocabSize(), h, new Split.Rows(vocab)));
        }
        return specs;
    }

    /** Layer i's q, k and v rows stacked at load time, one GEMM ({@code [q + 2 kv, hidden]} per rank). */
    public static String qkv(int i) {
        return layer(i, "self_attn.qkv_proj.weight");
    }

    /** Layer i's gate and up rows stacked at load time, one GEMM ({@code [2 ffn, hidden]} per rank). */
    public static String gateUp(int i) {
        return layer(i, "mlp.gate_up_proj.weight");
    }

    /**
     * The weights stacked at load time, by the name of the stack, parts in stacking order: each rank's row
     * slices of q, k, v (and of gate, up) become one matrix, so each projection group is one GEMM.
     */
    public static Map<String, List<String>> fusions(LlamaConfig c) {
        Map<String, List<String>> result = new LinkedHashMap<>();
        for (int i = 0; i < c.layers(); i++) {
            result.put(qkv(i), List.of(layer(i, "self_attn.q_proj.weight"), layer(i, "self_attn.k_proj.weight"),
                    layer(i, "self_attn.v_proj.weight")));
            result.put(gateUp(i), List.of(layer(i, "mlp.gate_proj.weight"), layer(i, "mlp.up_proj.weight")));
        }
        return result;
    }

    private static Partition scaled(Partition heads, int headDim) {
        return new Partition(heads.start() * headDim, heads.length() * headDim, heads.total() * headDim);
    }
}
