package io.cohort.model;

import io.cohort.core.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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

    /** Values of one random block come from one generator seeded by (seed, tensor, block): any chunking agrees. */
    private static final int BLOCK = 1 << 16;

    /** The tensors of a tp = 1 checkpoint in checkpoint order, as the header declares them (norms 1-D). */
    static List<SafetensorsWriter.Declared> declared(LlamaConfig c, DType dtype) {
        List<SafetensorsWriter.Declared> result = new ArrayList<>();
        for (WeightSpec s : LlamaWeights.specs(c, 1, 0, !c.tieWordEmbeddings())) {
            long[] shape = s.rows() == 1 ? new long[] {s.cols()} : new long[] {s.rows(), s.cols()};
            result.add(new SafetensorsWriter.Declared(s.name(), dtype, shape));
        }
        return result;
    }

    /**
     * The random values, unrounded: uniform in ±sqrt(3/fan_in) (embedding ±1), norm scales 1 ± 0.1. Element i of
     * tensor t depends only on (seed, t, i), so chunks can be generated in any order, on any thread.
     */
    static StreamedSafetensorsWriter.Values values(LlamaConfig c, long seed) {
        List<WeightSpec> specs = LlamaWeights.specs(c, 1, 0, !c.tieWordEmbeddings());
        return (index, start, out, count) -> {
            WeightSpec s = specs.get(index);
            boolean norm = s.rows() == 1;
            float bound = s.name().equals(LlamaWeights.EMBED) ? 1f : (float) Math.sqrt(3.0 / s.cols());
            long end = start + count;
            long i = start;
            while (i < end) {
                long block = i / BLOCK;
                long blockEnd = Math.min(end, (block + 1) * BLOCK);
                SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L
                        + (index + 1L) * 0xBF58476D1CE4E5B9L + block * 0x94D049BB133111EBL);
                for (long skip = block * BLOCK; skip < i; skip++) {
                    rnd.nextInt();
                }
                for (; i < blockEnd; i++) {
                    float u = (rnd.nextInt() >> 8) * 0x1p-23f; // uniform in [-1, 1) on a 2^-23 grid
                    out[(int) (i - start)] = norm ? 1f + 0.1f * u : bound * u;
                }
            }
        };
    }

    /** The weights, in checkpoint order, as floats already rounded to {@code dtype} (what {@link #write} writes). */
    public static Map<String, float[]> weights(LlamaConfig c, DType dtype, long seed) {
        StreamedSafetensorsWriter.Values values = values(c, seed);
        Map<String, float[]> w = new LinkedHashMap<>();
        List<SafetensorsWriter.Declared> declared = declared(c, dtype);
        for (int t = 0; t < declared.size(); t++) {
            float[] v = new float[Math.toIntExact(declared.get(t).elements())];
            values.fill(t, 0, v, v.length);
            for (int i = 0; i < v.length; i++) {
                v[i] = dtype.round(v[i]);
            }
            w.put(declared.get(t).name(), v);
        }
        return w;
    }

    /**
     * Writes a random model, streamed: every tensor generated in chunks straight to its file offset, so heap
     * stays small whatever the shape ({@link StreamedSafetensorsWriter}); on every core.
     */
    public static void write(Path dir, LlamaConfig c, DType dtype, long seed, int files) {
        write(dir, c, dtype, seed, files, Runtime.getRuntime().availableProcessors());
    }

    /** Like {@link #write(Path, LlamaConfig, DType, long, int)} on {@code threads} threads; returns the tensor bytes. */
    public static long write(Path dir, LlamaConfig c, DType dtype, long seed, int files, int threads) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), c.toJson());
            List<SafetensorsWriter.Declared> all = declared(c, dtype);
            StreamedSafetensorsWriter.Values values = values(c, seed);
            int n = Math.max(1, Math.min(files, all.size()));
            StringBuilder index = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
            for (int f = 0; f < n; f++) {
                String file = fileName(f, n);
                int from = f * all.size() / n, to = (f + 1) * all.size() / n;
                StreamedSafetensorsWriter.Values shifted = (i, start, out, count) -> values.fill(from + i, start, out, count);
                StreamedSafetensorsWriter.write(dir.resolve(file), all.subList(from, to), shifted, threads);
                for (int i = from; i < to; i++) {
                    index.append(index.charAt(index.length() - 1) == '{' ? "" : ",")
                            .append('"').append(all.get(i).name()).append("\":\"").append(file).append('"');
                }
            }
            if (n > 1) {
                Files.writeString(dir.resolve(Checkpoint.INDEX), index.append("}}").toString());
            }
            return all.stream().mapToLong(SafetensorsWriter.Declared::bytes).sum();
        } catch (IOException e) {
            throw new ModelException("cannot write a tiny model to " + dir + ": " + e.getMessage(), e);
        }
    }

    private static String fileName(int f, int n) {
        return n == 1 ? "model.safetensors" : "model-%05d-of-%05d.safetensors".formatted(f + 1, n);
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
                String file = fileName(f, n);
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
