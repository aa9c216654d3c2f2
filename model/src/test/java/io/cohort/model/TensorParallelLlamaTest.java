package io.cohort.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.device.Device;
import io.cohort.backend.BackendKind;
import io.cohort.group.LocalGroup;
import io.cohort.nn.HostAllReduce;
import io.cohort.nn.LocalGroupAllReduce;
import io.cohort.device.discovery.DeviceSpec;
import io.cohort.device.discovery.Devices;
import io.cohort.device.host.HostDevice;
import io.cohort.testing.FaultyDevice;
import io.cohort.device.host.HostDevices;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The tiny Llama (hidden 64, 4 heads, 2 kv heads, 2 layers, vocab 128) written by the test, run with 1, 2 and 4
 * host ranks.
 *
 * <p>Tolerances, on |expected - actual| / max(1, |expected|) over every logit of every position. Weights are
 * stored exactly (the reference reads the same rounded values, whatever the file dtype) and activations are f32,
 * so the only differences are f32 rounding and summation order. A length-k f32 dot product errs by at most
 * k·u (u = 2^-24 ≈ 6e-8) of the sum of |terms|, typically sqrt(k)·u; with k ≤ 128, about six products and two
 * norms on the path of each logit and O(1) activations, the worst case is ≈1e-4 and the typical error ≈1e-6
 * (measured: ≤ 4e-6). We assert 5e-5: an order of magnitude above what rounding produces, far below what any
 * real mistake (a wrong shard, mask, rotary pair or KV head) does, which moves logits by 1e-2 or more.
 * Tensor parallelism only reorders sums (each rank sums a slice of k, the all-reduce adds the slices), so
 * tp = 2 and 4 must match tp = 1 within the same bound.
 */
class TensorParallelLlamaTest {
    private static final int[] PROMPT = {5, 17, 99, 3, 127, 64, 0, 42};

    @TempDir
    Path dir;

    static LlamaConfig config(boolean tied) {
        return new LlamaConfig("llama", 64, 128, 2, 4, 2, 16, 128, 1e-5, 10000.0, 256, tied);
    }

    /** Random weights made here (not by TinyLlama), rounded to dtype so that file and reference agree. */
    static Map<String, float[]> randomWeights(LlamaConfig c, DType dtype, long seed) {
        Random rnd = new Random(seed);
        Map<String, float[]> w = new LinkedHashMap<>();
        int h = c.hiddenSize(), q = c.heads() * c.headDim(), kv = c.kvHeads() * c.headDim(), f = c.intermediateSize();
        put(w, "model.embed_tokens.weight", c.vocabSize() * h, 1.0, rnd, dtype, false);
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            put(w, p + "input_layernorm.weight", h, 0, rnd, dtype, true);
            put(w, p + "self_attn.q_proj.weight", q * h, 1 / Math.sqrt(h), rnd, dtype, false);
            put(w, p + "self_attn.k_proj.weight", kv * h, 1 / Math.sqrt(h), rnd, dtype, false);
            put(w, p + "self_attn.v_proj.weight", kv * h, 1 / Math.sqrt(h), rnd, dtype, false);
            put(w, p + "self_attn.o_proj.weight", h * q, 1 / Math.sqrt(q), rnd, dtype, false);
            put(w, p + "post_attention_layernorm.weight", h, 0, rnd, dtype, true);
            put(w, p + "mlp.gate_proj.weight", f * h, 1 / Math.sqrt(h), rnd, dtype, false);
            put(w, p + "mlp.up_proj.weight", f * h, 1 / Math.sqrt(h), rnd, dtype, false);
            put(w, p + "mlp.down_proj.weight", h * f, 1 / Math.sqrt(f), rnd, dtype, false);
        }
        put(w, "model.norm.weight", h, 0, rnd, dtype, true);
        if (!c.tieWordEmbeddings()) {
            put(w, "lm_head.weight", c.vocabSize() * h, 1 / Math.sqrt(h), rnd, dtype, false);
        }
        return w;
    }

    private static void put(Map<String, float[]> w, String name, int n, double scale, Random rnd, DType dtype,
                            boolean norm) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = dtype.round((float) (norm ? 1 + 0.1 * rnd.nextGaussian() : scale * rnd.nextGaussian()));
        }
        w.put(name, v);
    }

    static ReferenceLlama reference(LlamaConfig c, Map<String, float[]> w) {
        return new ReferenceLlama(w, c.hiddenSize(), c.intermediateSize(), c.layers(), c.heads(), c.kvHeads(),
                c.headDim(), c.vocabSize(), c.rmsNormEps(), c.ropeTheta(), c.tieWordEmbeddings());
    }

    private final List<HostDevice> opened = new ArrayList<>();

    @AfterEach
    void closeDevices() {
        HostDevices.closeAll(opened);
    }

    TensorParallelLlama load(Path dir, int tp, int maxBatch) {
        List<HostDevice> hosts = HostDevices.open(tp);
        opened.addAll(hosts);
        return TensorParallelLlama.load(dir, List.<Device>copyOf(hosts), new HostAllReduce(tp),
                TensorParallelLlama.Options.defaults().withProgress(ProgressBar.Mode.SILENT).withMaxBatch(maxBatch));
    }

    float[][] run(Path dir, int tp, int maxBatch) {
        try (TensorParallelLlama model = load(dir, tp, maxBatch)) {
            return model.forward(PROMPT, true);
        }
    }

    static double maxError(double[][] expected, float[][] actual, double relativeTo) {
        double worst = 0;
        for (int t = 0; t < expected.length; t++) {
            for (int v = 0; v < expected[t].length; v++) {
                double scale = Math.max(1, Math.abs(expected[t][v]));
                worst = Math.max(worst, Math.abs(expected[t][v] - actual[t][v]) / scale / relativeTo);
            }
        }
        return worst;
    }

    static double[][] toDouble(float[][] a) {
        double[][] d = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            d[i] = new double[a[i].length];
            for (int j = 0; j < a[i].length; j++) {
                d[i][j] = a[i][j];
            }
        }
        return d;
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16", "F16"})
    void oneRankMatchesDoublePrecisionReference(String dtypeName) {
        DType dtype = DType.valueOf(dtypeName);
        LlamaConfig c = config(false);
        Map<String, float[]> w = randomWeights(c, dtype, 7);
        TinyLlama.write(dir, c, dtype, w, 1);
        double[][] expected = reference(c, w).logits(PROMPT);
        float[][] actual = run(dir, 1, 64);
        double err = maxError(expected, actual, 1);
        assertTrue(err <= 5e-5, "tp=1 vs double reference: worst scaled error " + err);
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void shardedRanksMatchOneRank(int tp) {
        LlamaConfig c = config(false);
        TinyLlama.write(dir, c, DType.BF16, randomWeights(c, DType.BF16, 11), 3);
        double[][] single = toDouble(run(dir, 1, 64));
        float[][] sharded = run(dir, tp, 64);
        double err = maxError(single, sharded, 1);
        assertTrue(err <= 5e-5, "tp=" + tp + " vs tp=1: worst scaled error " + err);
    }

    @ParameterizedTest
    @ValueSource(strings = {"AUTO", "P2P", "NATIVE"})
    void collectiveBackendsGiveTheReferenceAllReducesResult(String backend) {
        LlamaConfig c = config(false);
        TinyLlama.write(dir, c, DType.BF16, randomWeights(c, DType.BF16, 13), 1);
        double[][] reference = toDouble(run(dir, 2, 64));
        List<HostDevice> hosts = HostDevices.open(2);
        opened.addAll(hosts);
        try (LocalGroup group = LocalGroup.builder(hosts).backend(BackendKind.valueOf(backend)).open();
             TensorParallelLlama model = TensorParallelLlama.load(dir, List.<Device>copyOf(hosts),
                     new LocalGroupAllReduce(group), TensorParallelLlama.Options.defaults()
                             .withProgress(ProgressBar.Mode.SILENT))) {
            float[][] got = model.forward(PROMPT, true);
            // with 2 ranks every backend adds the same two f32 partials, so only its own summation order could differ
            double err = maxError(reference, got, 1);
            assertTrue(err <= 5e-5, backend + " vs reference all-reduce: worst scaled error " + err);
            // one step (the prompt fits one batch): the embedding's all-reduce, then attention's and the MLP's per layer
            assertEquals(1 + 2 * c.layers(), model.allReduces());
        }
    }

    /**
     * Stream-ordered all-reduces (each rank enqueues its own part on its group stream, no host barrier) at
     * tp = 2 and 4 against tp = 1 with no all-reduce at all: same bound as {@link #shardedRanksMatchOneRank},
     * since the backends add the f32 partials in some order, which only reorders the sums.
     */
    @ParameterizedTest
    @CsvSource({"2,AUTO", "2,NATIVE", "4,AUTO", "4,NATIVE", "4,P2P"})
    void streamOrderedAllReducesMatchOneRank(int tp, String backend) {
        LlamaConfig c = config(false);
        TinyLlama.write(dir, c, DType.BF16, randomWeights(c, DType.BF16, 17), 1);
        double[][] single = toDouble(run(dir, 1, 64));
        List<HostDevice> hosts = HostDevices.open(tp);
        opened.addAll(hosts);
        try (LocalGroup group = LocalGroup.builder(hosts).backend(BackendKind.valueOf(backend)).open();
             TensorParallelLlama model = TensorParallelLlama.load(dir, List.<Device>copyOf(hosts),
                     new LocalGroupAllReduce(group), TensorParallelLlama.Options.defaults()
                             .withProgress(ProgressBar.Mode.SILENT).withMaxBatch(3))) {
            assertTrue(model.streamOrdered());
            // chunked prefill (3 + 3 + 2 tokens), so several forwards run back to back without a host wait
            float[][] got = model.forward(PROMPT, true);
            double err = maxError(single, got, 1);
            assertTrue(err <= 5e-5, "tp=" + tp + " " + backend + " vs tp=1: worst scaled error " + err);
            assertEquals(3 * (1 + 2 * c.layers()), model.allReduces());
        }
    }

    /** {@code host:0*2}: two ranks, their own streams and pools, on one host device; logits as tp = 1. */
    @Test
    void twoRanksOnOneDeviceMatchOneRank() {
        LlamaConfig c = config(false);
        TinyLlama.write(dir, c, DType.BF16, randomWeights(c, DType.BF16, 19), 1);
        double[][] single = toDouble(run(dir, 1, 64));
        var cohort = com.typesafe.config.ConfigFactory.parseString("devices.host-count = 1")
                .withFallback(com.typesafe.config.ConfigFactory.load().getConfig("cohort"));
        Devices.Selection shared = Devices.open(DeviceSpec.parse("host:0*2"), cohort);
        try (LocalGroup group = LocalGroup.builder(shared.devices()).sharedDevices().open();
             TensorParallelLlama model = TensorParallelLlama.load(dir, shared.devices(), new LocalGroupAllReduce(group),
                     TensorParallelLlama.Options.defaults().withProgress(ProgressBar.Mode.SILENT))) {
            double err = maxError(single, model.forward(PROMPT, true), 1);
            assertTrue(err <= 5e-5, "host:0*2 vs tp=1: worst scaled error " + err);
        } finally {
            shared.close();
        }
    }

    /**
     * Between layers the forward never synchronizes a stream on the host: the only host waits are the
     * logits' copies (and, host ops being synchronous, each rank's wait on its own group stream's events).
     */
    @Test
    void forwardMakesNoHostStreamSynchronize() {
        LlamaConfig c = config(false);
        TinyLlama.write(dir, c, DType.BF16, randomWeights(c, DType.BF16, 23), 1);
        List<HostDevice> hosts = HostDevices.open(2);
        opened.addAll(hosts);
        List<FaultyDevice> counted = hosts.stream().map(FaultyDevice::new).toList();
        try (LocalGroup group = LocalGroup.builder(counted).backend(BackendKind.NATIVE).open();
             TensorParallelLlama model = TensorParallelLlama.load(dir, List.<Device>copyOf(counted),
                     new LocalGroupAllReduce(group), TensorParallelLlama.Options.defaults()
                             .withProgress(ProgressBar.Mode.SILENT))) {
            long before = counted.stream().mapToLong(FaultyDevice::streamSynchronizes).sum();
            float[] logits = model.next(PROMPT);
            for (int i = 0; i < 4; i++) {
                logits = model.next(logits.length > 0 ? 7 * i + 1 : 0);
            }
            long after = counted.stream().mapToLong(FaultyDevice::streamSynchronizes).sum();
            assertEquals(0, after - before, "host stream synchronizes during 5 forwards");
            assertEquals(5 * (1 + 2 * c.layers()), model.allReduces());
        }
    }

    @Test
    void tiedEmbeddingsAndChunkedPrefillThenDecodeMatchReference() {
        LlamaConfig c = config(true);
        Map<String, float[]> w = randomWeights(c, DType.F32, 3);
        TinyLlama.write(dir, c, DType.F32, w, 1);
        double[][] expected = reference(c, w).logits(PROMPT);
        try (TensorParallelLlama model = load(dir, 2, 3)) {
            // prefill the first five tokens (chunks of 3 + 2), then decode one token at a time
            float[][] got = new float[PROMPT.length][];
            float[][] prefill = model.forward(java.util.Arrays.copyOf(PROMPT, 5), true);
            System.arraycopy(prefill, 0, got, 0, 5);
            for (int t = 5; t < PROMPT.length; t++) {
                got[t] = model.next(PROMPT[t]);
            }
            assertEquals(PROMPT.length, model.position());
            double err = maxError(expected, got, 1);
            assertTrue(err <= 5e-5, "prefill + decode vs reference: worst scaled error " + err);
        }
    }

    @Test
    void headsNotDivisibleByTpIsAClearError() {
        LlamaConfig c = new LlamaConfig("llama", 48, 96, 1, 3, 3, 16, 64, 1e-5, 10000.0, 64, false);
        TinyLlama.write(dir, c, DType.F32, 1, 1);
        ModelException e = assertThrows(ModelException.class, () -> load(dir, 2, 8));
        assertTrue(e.getMessage().contains("num_attention_heads = 3 is not divisible by 2"), e.getMessage());
    }

    @Test
    void untiedModelWithoutLmHeadIsAClearError() {
        LlamaConfig tied = config(true);
        TinyLlama.write(dir, tied, DType.F32, 1, 1);
        try {
            java.nio.file.Files.writeString(dir.resolve("config.json"), config(false).toJson());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        ModelException e = assertThrows(ModelException.class, () -> load(dir, 1, 8));
        assertTrue(e.getMessage().contains("no lm_head.weight") && e.getMessage().contains("tie_word_embeddings"),
                e.getMessage());
    }

    @Test
    void decodeGraphsOnHostDevicesAreAClearError() {
        LlamaConfig c = config(false);
        TinyLlama.write(dir, c, DType.F32, 1, 1);
        List<HostDevice> hosts = HostDevices.open(1);
        opened.addAll(hosts);
        io.cohort.core.CohortException e = assertThrows(io.cohort.core.CohortException.class,
                () -> TensorParallelLlama.load(dir, List.<Device>copyOf(hosts), new HostAllReduce(1),
                        TensorParallelLlama.Options.defaults().withProgress(ProgressBar.Mode.SILENT).withGraphs(true)));
        assertEquals("decode graphs need CUDA devices; rank 0 runs on host:0", e.getMessage());
    }

    /**
     * Greedy decode with the argmax on the ranks (nextGreedy) picks what the host's argmax of the full logits
     * picks, at tp 1, 2 and 4, step after step; and it refuses what next refuses.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void greedyStepsPickTheArgmaxOfTheLogits(int tp) {
        LlamaConfig c = config(false);
        TinyLlama.write(dir, c, DType.BF16, randomWeights(c, DType.BF16, 19), 3);
        try (TensorParallelLlama model = load(dir, tp, 8)) {
            int[] expected = new int[12];
            int token = io.cohort.nn.ArgMax.of(model.next(PROMPT));
            for (int i = 0; i < expected.length; i++) {
                token = io.cohort.nn.ArgMax.of(model.next(token));
                expected[i] = token;
            }
            model.reset();
            token = io.cohort.nn.ArgMax.of(model.next(PROMPT));
            for (int i = 0; i < expected.length; i++) {
                token = model.nextGreedy(token);
                assertEquals(expected[i], token, "tp=" + tp + ", step " + i);
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.nextGreedy(-1));
            assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
        }
    }

    @Test
    void tokenOutsideVocabularyIsRejected() {
        LlamaConfig c = config(false);
        TinyLlama.write(dir, c, DType.F32, 1, 1);
        try (TensorParallelLlama model = load(dir, 2, 8)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.next(128));
            assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
        }
    }
}
