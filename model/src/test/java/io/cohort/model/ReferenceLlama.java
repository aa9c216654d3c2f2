package io.cohort.model;

import java.util.Map;

/**
 * A straightforward Llama forward pass in double precision: plain loops over the full (unsharded) weights,
 * no KV cache (every position recomputes attention over the prefix), nothing shared with the code under test.
 * Follows Hugging Face's LlamaForCausalLM: pre-norm RMSNorm, rotary "rotate half", GQA, SwiGLU.
 */
final class ReferenceLlama {
    private final Map<String, float[]> w;
    private final int hidden, inter, layers, heads, kvHeads, headDim, vocab;
    private final double eps, theta;
    private final boolean tied;

    ReferenceLlama(Map<String, float[]> weights, int hidden, int inter, int layers, int heads, int kvHeads,
                   int headDim, int vocab, double eps, double theta, boolean tied) {
        this.w = weights;
        this.hidden = hidden;
        this.inter = inter;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.vocab = vocab;
        this.eps = eps;
        this.theta = theta;
        this.tied = tied;
    }

    /** Logits of every position, {@code [tokens][vocab]}. */
    double[][] logits(int[] tokens) {
        int n = tokens.length;
        double[][] x = new double[n][hidden];
        float[] emb = w.get("model.embed_tokens.weight");
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < hidden; i++) {
                x[t][i] = emb[tokens[t] * hidden + i];
            }
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] h = norm(x, w.get(p + "input_layernorm.weight"));
            double[][] q = linear(h, w.get(p + "self_attn.q_proj.weight"), heads * headDim);
            double[][] k = linear(h, w.get(p + "self_attn.k_proj.weight"), kvHeads * headDim);
            double[][] v = linear(h, w.get(p + "self_attn.v_proj.weight"), kvHeads * headDim);
            for (int t = 0; t < n; t++) {
                rope(q[t], heads, t);
                rope(k[t], kvHeads, t);
            }
            double[][] ctx = new double[n][heads * headDim];
            for (int t = 0; t < n; t++) {
                for (int hd = 0; hd < heads; hd++) {
                    int g = hd / (heads / kvHeads);
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u <= t; u++) {
                        double dot = 0;
                        for (int i = 0; i < headDim; i++) {
                            dot += q[t][hd * headDim + i] * k[u][g * headDim + i];
                        }
                        s[u] = dot / Math.sqrt(headDim);
                        max = Math.max(max, s[u]);
                    }
                    double sum = 0;
                    for (int u = 0; u <= t; u++) {
                        s[u] = Math.exp(s[u] - max);
                        sum += s[u];
                    }
                    for (int u = 0; u <= t; u++) {
                        for (int i = 0; i < headDim; i++) {
                            ctx[t][hd * headDim + i] += s[u] / sum * v[u][g * headDim + i];
                        }
                    }
                }
            }
            double[][] o = linear(ctx, w.get(p + "self_attn.o_proj.weight"), hidden);
            add(x, o);
            h = norm(x, w.get(p + "post_attention_layernorm.weight"));
            double[][] gate = linear(h, w.get(p + "mlp.gate_proj.weight"), inter);
            double[][] up = linear(h, w.get(p + "mlp.up_proj.weight"), inter);
            for (int t = 0; t < n; t++) {
                for (int i = 0; i < inter; i++) {
                    double g = gate[t][i];
                    gate[t][i] = g / (1 + Math.exp(-g)) * up[t][i];
                }
            }
            add(x, linear(gate, w.get(p + "mlp.down_proj.weight"), hidden));
        }
        double[][] h = norm(x, w.get("model.norm.weight"));
        return linear(h, w.get(tied ? "model.embed_tokens.weight" : "lm_head.weight"), vocab);
    }

    private double[][] norm(double[][] x, float[] scale) {
        double[][] out = new double[x.length][hidden];
        for (int t = 0; t < x.length; t++) {
            double ss = 0;
            for (double v : x[t]) {
                ss += v * v;
            }
            double inv = 1 / Math.sqrt(ss / hidden + eps);
            for (int i = 0; i < hidden; i++) {
                out[t][i] = x[t][i] * inv * scale[i];
            }
        }
        return out;
    }

    /** x · Wᵀ with W stored [out, in]. */
    private static double[][] linear(double[][] x, float[] weight, int out) {
        int in = x[0].length;
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) {
                    s += x[t][i] * weight[o * in + i];
                }
                y[t][o] = s;
            }
        }
        return y;
    }

    private void rope(double[] row, int nHeads, int pos) {
        int half = headDim / 2;
        for (int hd = 0; hd < nHeads; hd++) {
            for (int i = 0; i < half; i++) {
                double angle = pos / Math.pow(theta, 2.0 * i / headDim);
                double a = row[hd * headDim + i], b = row[hd * headDim + half + i];
                row[hd * headDim + i] = a * Math.cos(angle) - b * Math.sin(angle);
                row[hd * headDim + half + i] = b * Math.cos(angle) + a * Math.sin(angle);
            }
        }
    }

    private static void add(double[][] x, double[][] y) {
        for (int t = 0; t < x.length; t++) {
            for (int i = 0; i < x[t].length; i++) {
                x[t][i] += y[t][i];
            }
        }
    }
}
