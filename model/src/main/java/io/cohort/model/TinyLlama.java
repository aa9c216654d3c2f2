package io.cohort.model;

import io.cohort.core.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a small Llama checkpoint with random weights ({@code cohort model make-tiny}, tests): config.json plus
 * safetensors in {@code dtype}, split over {@code files} files with a {@code model.safetensors.index.json} when
 * more than one. Weights are uniform in ±sqrt(3/fan_in) (unit variance through each projection), norm scales
 * near 1, so activations stay O(1) through the layers and logits are well spread.
 */
public final class TinyLlama {
    private TinyLlama() {
    }

    /** hidden 64, 4 heads, 2 kv heads, 2 layers, vocab 128, MLP 128: small enough for any test. */
    public static LlamaConfig defaultConfig() {
        return new LlamaConfig("llama", 64, 128, 2, 4, 2, 16, 128, 1e-5, 10000.0, 256, false);
    }

    /** The weights, in checkpoint order, as floats already rounded to {@code dtype}. */
    public static Map<String, float[]> weights(LlamaConfig c, DType dtype, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<String, float[]> w = new LinkedHashMap<>();
        for (WeightSpec s : LlamaWeights.specs(c, 1, 0, !c.tieWordEmbeddings())) {
            float[] v = new float[s.rows() * s.cols()];
            boolean norm = s.rows() == 1;
            double bound = s.name().equals(LlamaWeights.EMBED) ? 1.0 : Math.sqrt(3.0 / s.cols());
            for (int i = 0; i < v.length; i++) {
                double u = rnd.nextDouble(-1, 1);
                v[i] = dtype.round((float) (norm ? 1 + 0.1 * u : bound * u));
            }
            w.put(s.name(), v);
        }
        return w;
    }

    public static void write(Path dir, LlamaConfig c, DType dtype, long seed, int files) {
        write(dir, c, dtype, weights(c, dtype, seed), files);
    }

    /** Writes given weights (names and sizes as {@link #weights} makes them). */
    public static void write(Path dir, LlamaConfig c, DType dtype, Map<String, float[]> weights, int files) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), c.toJson());
            List<String> names = List.copyOf(weights.keySet());
            int n = Math.max(1, Math.min(files, names.size()));
            StringBuilder index = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
            for (int f = 0; f < n; f++) {
                String file = n == 1 ? "model.safetensors"
                        : "model-%05d-of-%05d.safetensors".formatted(f + 1, n);
                SafetensorsWriter writer = new SafetensorsWriter();
                for (int i = f * names.size() / n; i < (f + 1) * names.size() / n; i++) {
                    String name = names.get(i);
                    float[] v = weights.get(name);
                    long[] shape = v.length == c.hiddenSize() && name.endsWith("norm.weight")
                            ? new long[] {v.length} : new long[] {v.length / cols(c, name), cols(c, name)};
                    writer.add(name, dtype, shape, v);
                    index.append(index.charAt(index.length() - 1) == '{' ? "" : ",")
                            .append('"').append(name).append("\":\"").append(file).append('"');
                }
                writer.write(dir.resolve(file));
            }
            if (n > 1) {
                Files.writeString(dir.resolve(Checkpoint.INDEX), index.append("}}").toString());
            }
        } catch (IOException e) {
            throw new ModelException("cannot write a tiny model to " + dir + ": " + e.getMessage(), e);
        }
    }

    private static int cols(LlamaConfig c, String name) {
        return name.endsWith("o_proj.weight") ? c.heads() * c.headDim()
                : name.endsWith("down_proj.weight") ? c.intermediateSize() : c.hiddenSize();
    }
}
