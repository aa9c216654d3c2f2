package io.cohort.model;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import io.cohort.nn.Partition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * The architecture of a Llama-style decoder, as Hugging Face's {@code config.json} states it (read with
 * Typesafe Config, which parses JSON). Only what changes the computation is kept; features Cohort does not
 * implement (rope scaling, biases) are rejected rather than silently ignored.
 */
public record LlamaConfig(String modelType, int hiddenSize, int intermediateSize, int layers, int heads,
                          int kvHeads, int headDim, int vocabSize, double rmsNormEps, double ropeTheta,
                          int maxPositions, boolean tieWordEmbeddings) {

    private static final Set<String> KNOWN_TYPES = Set.of("llama", "mistral");

    public LlamaConfig {
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", layers);
        positive("num_attention_heads", heads);
        positive("num_key_value_heads", kvHeads);
        positive("head_dim", headDim);
        positive("vocab_size", vocabSize);
        positive("max_position_embeddings", maxPositions);
        if (heads % kvHeads != 0) {
            throw new ModelException("num_attention_heads = " + heads + " is not a multiple of num_key_value_heads = " + kvHeads);
        }
        if (headDim % 2 != 0) {
            throw new ModelException("head_dim = " + headDim + " must be even for rotary embeddings");
        }
    }

    public static LlamaConfig read(Path configJson) {
        if (!Files.isRegularFile(configJson)) {
            throw new ModelException("no config.json at " + configJson);
        }
        Config c;
        try {
            c = ConfigFactory.parseFile(configJson.toFile(),
                    ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON).setAllowMissing(false));
        } catch (ConfigException e) {
            throw new ModelException(configJson + " is not valid JSON: " + e.getMessage(), e);
        }
        return parse(c, configJson.toString());
    }

    static LlamaConfig parse(Config c, String origin) {
        try {
            String type = c.hasPath("model_type") ? c.getString("model_type") : "llama";
            if (!KNOWN_TYPES.contains(type)) {
                throw new ModelException(origin + ": model_type '" + type + "' is not a Llama-style decoder Cohort runs ("
                        + KNOWN_TYPES + ")");
            }
            if (c.hasPath("rope_scaling")) {
                throw new ModelException(origin + ": rope_scaling " + c.getValue("rope_scaling").render()
                        + " is not supported (plain rotary embeddings only)");
            }
            if (c.hasPath("hidden_act") && !c.getString("hidden_act").equals("silu")) {
                throw new ModelException(origin + ": hidden_act '" + c.getString("hidden_act")
                        + "' is not supported (SwiGLU with silu only)");
            }
            for (String bias : new String[] {"attention_bias", "mlp_bias"}) {
                if (c.hasPath(bias) && c.getBoolean(bias)) {
                    throw new ModelException(origin + ": " + bias + " = true is not supported");
                }
            }
            int hidden = c.getInt("hidden_size");
            int heads = c.getInt("num_attention_heads");
            return new LlamaConfig(type, hidden, c.getInt("intermediate_size"), c.getInt("num_hidden_layers"), heads,
                    c.hasPath("num_key_value_heads") ? c.getInt("num_key_value_heads") : heads,
                    c.hasPath("head_dim") ? c.getInt("head_dim") : hidden / heads,
                    c.getInt("vocab_size"),
                    c.hasPath("rms_norm_eps") ? c.getDouble("rms_norm_eps") : 1e-6,
                    c.hasPath("rope_theta") ? c.getDouble("rope_theta") : 10000.0,
                    c.hasPath("max_position_embeddings") ? c.getInt("max_position_embeddings") : 2048,
                    c.hasPath("tie_word_embeddings") && c.getBoolean("tie_word_embeddings"));
        } catch (ConfigException e) {
            throw new ModelException(origin + ": " + e.getMessage(), e);
        }
    }

    /** Checks that the model splits over {@code tp} ranks; the message names the offending setting. */
    public void checkTensorParallel(int tp) {
        if (tp < 1) {
            throw new ModelException("tp must be at least 1, got " + tp);
        }
        for (var dim : new Object[][] {{"num_attention_heads", heads}, {"intermediate_size", intermediateSize}}) {
            int value = (Integer) dim[1];
            if (value % tp != 0) {
                throw new ModelException("cannot split the model over tp = " + tp + " ranks: " + dim[0] + " = " + value
                        + " is not divisible by " + tp + " (each rank needs whole heads / equal MLP slices)");
            }
        }
        if (kvHeads % tp != 0 && tp % kvHeads != 0) {
            throw new ModelException("cannot split the model over tp = " + tp + " ranks: num_key_value_heads = "
                    + kvHeads + " is neither divisible by " + tp + " nor a divisor of it (KV heads are split, or"
                    + " replicated when tp exceeds them)");
        }
        if (vocabSize < tp) {
            throw new ModelException("vocab_size = " + vocabSize + " is smaller than tp = " + tp);
        }
    }

    public Partition queryHeads(int tp, int rank) {
        return Partition.even("num_attention_heads", heads, tp, rank);
    }

    /**
     * The KV heads rank {@code rank} holds: an equal share when {@code kvHeads >= tp}; otherwise (GQA with fewer
     * KV heads than ranks, as vLLM does) each KV head is replicated on {@code tp / kvHeads} consecutive ranks,
     * exactly the ranks whose query heads read it.
     */
    public Partition kvHeadsOf(int tp, int rank) {
        if (kvHeads >= tp) {
            return Partition.even("num_key_value_heads", kvHeads, tp, rank);
        }
        return new Partition(rank * kvHeads / tp, 1, kvHeads);
    }

    public Partition intermediate(int tp, int rank) {
        return Partition.even("intermediate_size", intermediateSize, tp, rank);
    }

    public Partition vocab(int tp, int rank) {
        return Partition.balanced(vocabSize, tp, rank);
    }

    /** config.json text for this configuration (what {@link TinyLlama} writes). */
    public String toJson() {
        return """
                {
                  "architectures": ["LlamaForCausalLM"],
                  "model_type": "%s",
                  "hidden_size": %d,
                  "intermediate_size": %d,
                  "num_hidden_layers": %d,
                  "num_attention_heads": %d,
                  "num_key_value_heads": %d,
                  "head_dim": %d,
                  "vocab_size": %d,
                  "rms_norm_eps": %s,
                  "rope_theta": %s,
                  "max_position_embeddings": %d,
                  "tie_word_embeddings": %b,
                  "hidden_act": "silu"
                }
                """.formatted(modelType, hiddenSize, intermediateSize, layers, heads, kvHeads, headDim, vocabSize,
                Double.toString(rmsNormEps), Double.toString(ropeTheta), maxPositions, tieWordEmbeddings);
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new ModelException(name + " must be positive, got " + value);
        }
    }
}
