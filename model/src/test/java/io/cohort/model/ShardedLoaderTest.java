package io.cohort.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.nn.Matrix;
import io.cohort.nn.Partition;
import io.cohort.nn.host.HostTensorOps;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import io.cohort.device.host.HostDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ShardedLoaderTest {
    private final HostDevice device = HostDevice.open(0);

    @AfterEach
    void closeDevice() {
        device.close();
    }

    private static final int ROWS = 12;
    private static final int COLS = 8;

    @TempDir
    Path dir;

    /** element (r, c) = 16 r + c: every slice's origin shows in its values (exact in bf16: all below 256). */
    private static float value(int r, int c) {
        return r * 16 + c;
    }

    private Checkpoint checkpoint(DType dtype) {
        float[] full = new float[ROWS * COLS];
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLS; c++) {
                full[r * COLS + c] = value(r, c);
            }
        }
        new SafetensorsWriter().add("w", dtype, new long[] {ROWS, COLS}, full)
                .add("n", dtype, new long[] {COLS}, java.util.Arrays.copyOf(full, COLS))
                .write(dir.resolve("model.safetensors"));
        try {
            Files.writeString(dir.resolve("config.json"), TinyLlama.defaultConfig().toJson());
        } catch (java.io.IOException e) {
            throw new RuntimeException(e);
        }
        return Checkpoint.open(dir);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void eachRankGetsItsBlockOfRowsAndColumns(int tp) {
        try (Checkpoint ckpt = checkpoint(DType.BF16);
             HostTensorOps ops = new HostTensorOps(device, 1);
             ProgressBar bar = new ProgressBar("test", 1, 1, ProgressBar.Mode.SILENT)) {
            ShardedLoader loader = new ShardedLoader(ckpt, bar);
            for (int rank = 0; rank < tp; rank++) {
                Partition rows = Partition.even("rows", ROWS, tp, rank);
                Partition cols = Partition.balanced(COLS, tp, rank);
                Matrix byRows = loader.load(ops, new WeightSpec("w", ROWS, COLS, new Split.Rows(rows)));
                Matrix byCols = loader.load(ops, new WeightSpec("w", ROWS, COLS, new Split.Cols(cols)));
                assertEquals(DType.BF16, byRows.dtype());
                assertEquals(rows.length(), byRows.rows());
                assertEquals(cols.length(), byCols.cols());
                for (int r = 0; r < rows.length(); r++) {
                    for (int c = 0; c < COLS; c++) {
                        assertEquals(value(rows.start() + r, c), get(byRows, r, c), "rank " + rank + " row slice");
                    }
                }
                for (int r = 0; r < ROWS; r++) {
                    for (int c = 0; c < cols.length(); c++) {
                        assertEquals(value(r, cols.start() + c), get(byCols, r, c), "rank " + rank + " column slice");
                    }
                }
            }
            Matrix norm = loader.load(ops, new WeightSpec("n", 1, COLS, Split.replicated()));
            for (int c = 0; c < COLS; c++) {
                assertEquals(value(0, c), get(norm, 0, c));
            }
            assertEquals(2L * tp + 1, bar.itemsDone());
        }
    }

    /** Stacking: each part's row slice one under the other, in the fusion's order, in one matrix. */
    @Test
    void stackedPartsAreTheirRowSlicesOneUnderAnother() {
        try (Checkpoint ckpt = checkpoint(DType.BF16);
             HostTensorOps ops = new HostTensorOps(device, 1);
             ProgressBar bar = new ProgressBar("test", 1, 1, ProgressBar.Mode.SILENT)) {
            ShardedLoader loader = new ShardedLoader(ckpt, bar);
            Partition first = new Partition(2, 3, ROWS), second = new Partition(8, 4, ROWS);
            Matrix m = loader.loadStacked(ops, "stack", List.of(new WeightSpec("w", ROWS, COLS, new Split.Rows(first)),
                    new WeightSpec("w", ROWS, COLS, new Split.Rows(second))));
            assertEquals(7, m.rows());
            for (int c = 0; c < COLS; c++) {
                for (int r = 0; r < 3; r++) {
                    assertEquals(value(2 + r, c), get(m, r, c));
                }
                for (int r = 0; r < 4; r++) {
                    assertEquals(value(8 + r, c), get(m, 3 + r, c));
                }
            }
            ModelException e = assertThrows(ModelException.class, () -> loader.loadStacked(ops, "bad",
                    List.of(new WeightSpec("w", ROWS, COLS, new Split.Cols(new Partition(0, 4, COLS))))));
            assertTrue(e.getMessage().startsWith("cannot stack w"), e.getMessage());
        }
    }

    private static float get(Matrix m, int r, int c) {
        return m.dtype().get(m.buffer().segment(), (long) r * m.cols() + c);
    }

    @Test
    void shapeDisagreeingWithConfigIsAClearError() {
        try (Checkpoint ckpt = checkpoint(DType.F32);
             HostTensorOps ops = new HostTensorOps(device, 1)) {
            ShardedLoader loader = new ShardedLoader(ckpt, new ProgressBar("t", 1, 1, ProgressBar.Mode.SILENT));
            ModelException e = assertThrows(ModelException.class,
                    () -> loader.load(ops, new WeightSpec("w", ROWS, 16, Split.replicated())));
            assertTrue(e.getMessage().contains("[12, 8]") && e.getMessage().contains("[12, 16]"), e.getMessage());
        }
    }

    @Test
    void llamaSpecsSplitEveryProjectionTheMegatronWay() {
        LlamaConfig c = TinyLlama.defaultConfig();
        List<WeightSpec> specs = LlamaWeights.specs(c, 2, 1, true);
        Map<String, WeightSpec> byName = new java.util.HashMap<>();
        specs.forEach(s -> byName.put(s.name(), s));
        assertEquals(new Split.Rows(new Partition(32, 32, 64)), byName.get(LlamaWeights.layer(0, "self_attn.q_proj.weight")).split());
        assertEquals(new Split.Rows(new Partition(16, 16, 32)), byName.get(LlamaWeights.layer(0, "self_attn.k_proj.weight")).split());
        assertEquals(new Split.Cols(new Partition(32, 32, 64)), byName.get(LlamaWeights.layer(0, "self_attn.o_proj.weight")).split());
        assertEquals(new Split.Cols(new Partition(64, 64, 128)), byName.get(LlamaWeights.layer(1, "mlp.down_proj.weight")).split());
        assertEquals(new Split.Rows(new Partition(64, 64, 128)), byName.get(LlamaWeights.EMBED).split());
        assertEquals(new Split.Replicated(), byName.get(LlamaWeights.FINAL_NORM).split());
        // 2 kv heads over 4 ranks: each kv head is replicated on the two ranks whose query heads read it
        assertEquals(new Split.Rows(new Partition(16, 16, 32)),
                LlamaWeights.specs(c, 4, 2, true).stream().filter(s -> s.name().endsWith("0.self_attn.v_proj.weight"))
                        .findFirst().orElseThrow().split());
    }

    @Test
    void missingConfigAndMissingTensorsAreClearErrors() throws Exception {
        ModelException noConfig = assertThrows(ModelException.class, () -> Checkpoint.open(dir));
        assertTrue(noConfig.getMessage().contains("config.json"), noConfig.getMessage());
        try (Checkpoint ckpt = checkpoint(DType.F32)) {
            ModelException e = assertThrows(ModelException.class, () -> ckpt.info("model.norm.weight"));
            assertTrue(e.getMessage().contains("no tensor 'model.norm.weight'"), e.getMessage());
        }
    }

    @Test
    void badConfigValuesAreClearErrors() throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 64, \"num_attention_heads\": 4}");
        ModelException missing = assertThrows(ModelException.class, () -> LlamaConfig.read(dir.resolve("config.json")));
        assertTrue(missing.getMessage().contains("intermediate_size"), missing.getMessage());
        Files.writeString(dir.resolve("config.json"), TinyLlama.defaultConfig().toJson()
                .replace("\"hidden_act\"", "\"rope_scaling\": {\"type\": \"llama3\", \"factor\": 8.0}, \"hidden_act\""));
        ModelException scaling = assertThrows(ModelException.class, () -> LlamaConfig.read(dir.resolve("config.json")));
        assertTrue(scaling.getMessage().contains("rope_scaling"), scaling.getMessage());
    }
}
