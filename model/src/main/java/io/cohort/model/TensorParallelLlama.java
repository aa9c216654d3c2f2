package io.cohort.model;

import io.cohort.core.CohortException;
import io.cohort.device.Device;
import io.cohort.nn.AllReduceGroup;
import io.cohort.nn.ArgMax;
import io.cohort.nn.Matrix;
import io.cohort.nn.Partition;
import io.cohort.nn.RankThreads;
import io.cohort.nn.TensorOps;
import io.cohort.nn.TensorOpsFactory;
import io.cohort.nn.TpGroup;
import io.cohort.nn.cuda.CudaTensorOps;
import io.cohort.nn.cuda.KernelTimeline;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Llama checkpoint loaded across {@code tp} devices and run tensor-parallel: one {@link LlamaRank} per device,
 * each on its own thread, meeting in the group's all-reduces. The single entry point for callers: tokens in,
 * full-vocabulary logits out (the ranks' vocabulary slices are concatenated on the host). A sequence
 * continues across calls (the KV caches hold it) until {@link #reset}.
 */
public final class TensorParallelLlama implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TensorParallelLlama.class);

    /**
     * {@code maxSeq}: KV cache length; {@code maxBatch}: tokens per forward step (longer prompts are chunked);
     * {@code threadsPerRank}: CPU threads of a host rank's GEMMs; {@code stepTimeout}: limit of one step on
     * every rank (and of each all-reduce); {@code loadTimeout}: limit of loading.
     */
    public record Options(int maxSeq, int maxBatch, int threadsPerRank, Duration stepTimeout, Duration loadTimeout,
                          ProgressBar.Mode progress, boolean graphs) {
        public Options {
            if (maxSeq < 1 || maxBatch < 1 || threadsPerRank < 1) {
                throw new IllegalArgumentException("maxSeq, maxBatch and threadsPerRank must be positive");
            }
        }

        public static Options defaults() {
            return new Options(1024, 64, 1, Duration.ofMinutes(2), Duration.ofHours(1), ProgressBar.Mode.detect(), false);
        }

        public Options(int maxSeq, int maxBatch, int threadsPerRank, Duration stepTimeout, Duration loadTimeout,
                       ProgressBar.Mode progress) {
            this(maxSeq, maxBatch, threadsPerRank, stepTimeout, loadTimeout, progress, false);
        }

        /** Decode steps captured into a CUDA graph per rank and replayed (CUDA devices only); see {@link #graphs}. */
        public Options withGraphs(boolean on) {
            return new Options(maxSeq, maxBatch, threadsPerRank, stepTimeout, loadTimeout, progress, on);
        }

        public Options withProgress(ProgressBar.Mode mode) {
            return new Options(maxSeq, maxBatch, threadsPerRank, stepTimeout, loadTimeout, mode, graphs);
        }

        public Options withThreadsPerRank(int threads) {
            return new Options(maxSeq, maxBatch, threads, stepTimeout, loadTimeout, progress, graphs);
        }

        public Options withMaxBatch(int batch) {
            return new Options(maxSeq, batch, threadsPerRank, stepTimeout, loadTimeout, progress, graphs);
        }

        public Options withMaxSeq(int seq) {
            return new Options(seq, maxBatch, threadsPerRank, stepTimeout, loadTimeout, progress, graphs);
        }
    }

    private final LlamaConfig config;
    private final AllReduceGroup group;
    private final List<TensorOps> ops;
    private final TpGroup tpGroup;
    private final RankThreads threads;
    private final List<LlamaRank> ranks;
    private final int maxSeq;
    private int position;
    // decode graphs: one per rank, captured at the second single-token step, replayed after
    private final DecodeGraphs graphs;
    // nextGreedy: each rank's ArgMax of its vocabulary slice
    private final long[] tops;
    private boolean useGraphs;

    private TensorParallelLlama(LlamaConfig config, AllReduceGroup group, List<TensorOps> ops, TpGroup tpGroup,
                                RankThreads threads, List<LlamaRank> ranks, int maxSeq, DecodeGraphs graphs) {
        this.config = config;
        this.group = group;
        this.ops = ops;
        this.tpGroup = tpGroup;
        this.threads = threads;
        this.ranks = ranks;
        this.maxSeq = maxSeq;
        this.graphs = graphs;
        this.useGraphs = graphs != null;
        this.tops = new long[ranks.size()];
    }

    /**
     * Loads the checkpoint in {@code dir} across {@code devices} (rank r = devices.get(r)), each rank taking only
     * its slices, with all-reduces through {@code group} (of the same size).
     */
    public static TensorParallelLlama load(Path dir, List<Device> devices, AllReduceGroup group, Options options) {
        int tp = devices.size();
        if (group.size() != tp) {
            throw new CohortException("all-reduce group of " + group.size() + " ranks for " + tp + " devices");
        }
        List<TensorOps> ops = new ArrayList<>();
        RankThreads threads = null;
        try (Checkpoint checkpoint = Checkpoint.open(dir)) {
            LlamaConfig config = checkpoint.config();
            config.checkTensorParallel(tp);
            boolean separateHead = !config.tieWordEmbeddings();
            if (separateHead && !checkpoint.has(LlamaWeights.LM_HEAD)) {
                throw new ModelException(dir + " has no " + LlamaWeights.LM_HEAD + " and config.json does not set"
                        + " tie_word_embeddings = true");
            }
            for (Device d : devices) {
                ops.add(TensorOpsFactory.forDevice(d, options.threadsPerRank()));
            }
            // before the weights: a model that cannot capture fails at once, naming why
            DecodeGraphs graphs = options.graphs() ? DecodeGraphs.prepare(ops, group) : null;
            TpGroup tpGroup = new TpGroup(group, ops.toArray(TensorOps[]::new), options.stepTimeout());
            threads = new RankThreads(tp, "llama", options.stepTimeout(), tpGroup::abort);
            List<List<WeightSpec>> specs = new ArrayList<>();
            long totalBytes = 0;
            int totalTensors = 0;
            for (int r = 0; r < tp; r++) {
                specs.add(LlamaWeights.specs(config, tp, r, separateHead));
                totalBytes += ShardedLoader.bytesOf(checkpoint, specs.get(r));
                totalTensors += specs.get(r).size();
            }
            int maxSeq = Math.min(options.maxSeq(), config.maxPositions());
            LOG.info("loading {} ({} layers, hidden {}, {} heads / {} kv heads, vocab {}) over tp = {}: {} per rank",
                    dir, config.layers(), config.hiddenSize(), config.heads(), config.kvHeads(), config.vocabSize(), tp,
                    ProgressBar.human(totalBytes / tp));
            List<LlamaRank> ranks;
            try (ProgressBar bar = new ProgressBar("loading", totalBytes, totalTensors, options.progress())) {
                ShardedLoader loader = new ShardedLoader(checkpoint, bar);
                ranks = threads.onEveryRank(r -> new LlamaRank(config, tpGroup.comm(r), ops.get(r),
                        loader.load(ops.get(r), specs.get(r), LlamaWeights.fusions(config)), maxSeq, options.maxBatch()), options.loadTimeout());
            }
            return new TensorParallelLlama(config, group, List.copyOf(ops), tpGroup, threads, ranks, maxSeq, graphs);
        } catch (RuntimeException e) {
            if (threads != null) {
                threads.close();
            }
            ops.forEach(TensorOps::close);
            throw e;
        }
    }

    public LlamaConfig config() {
        return config;
    }

    public int tp() {
        return ranks.size();
    }

    public AllReduceGroup group() {
        return group;
    }

    /** Tokens in the sequence so far (the next token's position). */
    public int position() {
        return position;
    }

    /** Whether the ranks' all-reduces are stream-ordered (no host synchronize or barrier between layers). */
    public boolean streamOrdered() {
        return tpGroup.streamOrdered();
    }

    /** All-reduces run so far across the group. */
    public long allReduces() {
        return tpGroup.allReduces();
    }

    /** Of {@link #allReduces}, those run as the epilogue of a row-parallel GEMV (one kernel for both). */
    public long allReducesInKernels() {
        return tpGroup.allReducesInKernels();
    }

    /** Time spent in all-reduces so far (inside the collective, summed over calls). */
    public long allReduceNanos() {
        return tpGroup.allReduceNanos();
    }

    /** Whether decode steps replay CUDA graphs (loaded with {@link Options#withGraphs}, and not switched off). */
    public boolean graphs() {
        return useGraphs;
    }

    /**
     * The most weight bytes any one device holds (ranks sharing a device add up): the bytes the busiest device
     * streams per decode step, the numerator of the weight-streaming floor.
     */
    public long maxWeightBytesPerDevice() {
        java.util.Map<Device, Long> perDevice = new java.util.IdentityHashMap<>();
        for (LlamaRank r : ranks) {
            perDevice.merge(r.ops().device(), r.weightBytes(), Long::sum);
        }
        return perDevice.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    /** Whether the model was loaded with decode graphs ({@link Options#withGraphs}). */
    public boolean graphsLoaded() {
        return graphs != null;
    }

    /** Switches decode graphs on or off (eager steps); only a model loaded with graphs can switch them on. */
    public void useGraphs(boolean on) {
        if (on && graphs == null) {
            throw new CohortException("the model was loaded without graphs (Options.withGraphs)");
        }
        useGraphs = on;
    }

    /** Starts a new sequence (the KV caches are overwritten from position 0). */
    public void reset() {
        position = 0;
    }

    /** Appends {@code tokens} to the sequence and returns the logits of its last position ({@code [vocab]}). */
    public float[] next(int... tokens) {
        return forward(tokens, false)[0];
    }

    /**
     * Appends {@code token} and returns the greedy choice for the next position: the index of the largest logit
     * (the first on ties; {@link ArgMax}), what {@code ArgMax.of(next(token))} returns. Each rank
     * scans its vocabulary slice on its device ({@link io.cohort.nn.TensorOps#argmax}) and the host compares one
     * value per rank, so the logits never leave the devices.
     */
    public int nextGreedy(int token) {
        int[] one = {token};
        check(one);
        int start = position;
        if (useGraphs && graphs.ready(position)) {
            threads.onEveryRank(r -> {
                tops[r] = ranks.get(r).ops().argmax(graphs.step(r, ranks.get(r), one, start));
                return null;
            });
        } else {
            threads.onEveryRank(r -> {
                LlamaRank rank = ranks.get(r);
                tops[r] = rank.ops().argmax(rank.forward(one, start, LlamaRank.Logits.LAST));
                return null;
            });
            if (graphs != null) {
                graphs.warmed();
            }
        }
        position++;
        // the ranks' slices ascend through the vocabulary, so a later rank wins only with a larger value (or over
        // a slice of NaN): the first of equal maxima is the lowest index, as ArgMax.of over the whole row
        int best = 0;
        float max = Float.NaN;
        for (int r = 0; r < tops.length; r++) {
            float v = ArgMax.value(tops[r]);
            if (r == 0 || v > max || (Float.isNaN(max) && !Float.isNaN(v))) {
                max = v;
                best = ranks.get(r).vocab().start() + ArgMax.index(tops[r]);
            }
        }
        return best;
    }

    /**
     * Device time per kernel of one eager decode step of {@code token} on rank 0 (`cohort model bench
     * --profile`), the sequence advancing by that token. CUDA ranks only.
     */
    public KernelTimeline.Report profileDecodeStep(int token) {
        if (!(ops.getFirst() instanceof CudaTensorOps cuda)) {
            throw new CohortException("profiling a decode step needs CUDA devices; rank 0 runs on "
                    + ops.getFirst().device().name());
        }
        boolean graphsWere = useGraphs;
        useGraphs = false;
        try (KernelTimeline timeline = cuda.newTimeline(8 * (config.layers() + 2) * 4)) {
            cuda.timeline(timeline);
            try {
                next(token);
            } finally {
                cuda.timeline(null);
            }
            return timeline.report();
        } finally {
            useGraphs = graphsWere;
        }
    }

    /**
     * Appends {@code tokens} to the sequence, in steps of at most maxBatch tokens, and returns logits: of every
     * new position when {@code allPositions} ({@code [tokens][vocab]}), else of the last ({@code [1][vocab]}).
     */
    public float[][] forward(int[] tokens, boolean allPositions) {
        check(tokens);
        int step = ranks.getFirst().maxBatch();
        float[][] out = new float[allPositions ? tokens.length : 1][config.vocabSize()];
        if (useGraphs && tokens.length == 1 && !allPositions && graphs.ready(position)) {
            int start = position;
            threads.onEveryRank(r -> {
                gather(ranks.get(r), graphs.step(r, ranks.get(r), tokens, start), out, 0);
                return null;
            });
            position++;
            return out;
        }
        for (int from = 0; from < tokens.length; from += step) {
            int[] chunk = Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + step));
            boolean lastChunk = from + step >= tokens.length;
            LlamaRank.Logits wanted = allPositions ? LlamaRank.Logits.ALL
                    : lastChunk ? LlamaRank.Logits.LAST : LlamaRank.Logits.NONE;
            int start = position;
            int rowBase = allPositions ? from : 0;
            threads.onEveryRank(r -> {
                LlamaRank rank = ranks.get(r);
                Matrix logits = rank.forward(chunk, start, wanted);
                if (logits != null) {
                    gather(rank, logits, out, rowBase);
                }
                return null;
            });
            position += chunk.length;
        }
        if (graphs != null && tokens.length == 1) {
            graphs.warmed(); // an eager single-token step has sized every scratch buffer a decode step needs
        }
        return out;
    }

    /** Refuses what no step can take: no tokens, a broken rank group, past the KV cache, outside the vocabulary. */
    private void check(int[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("a step needs at least one token, got none");
        }
        String broken = tpGroup.broken();
        if (broken != null) {
            throw new CohortException("the model's rank group " + broken + "; load it again");
        }
        if (position + tokens.length > maxSeq) {
            throw new CohortException("sequence of " + (position + tokens.length) + " tokens exceeds the KV cache of "
                    + maxSeq + " (max-seq)");
        }
        for (int t : tokens) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + t + " outside the vocabulary 0.." + (config.vocabSize() - 1));
            }
        }
    }

    /** Copies a rank's logits slice into its columns of the full rows (ranks write disjoint columns). */
    private static void gather(LlamaRank rank, Matrix logits, float[][] out, int rowBase) {
        Partition vocab = rank.vocab();
        if (logits.rows() == 1) {   // a decode step: straight into its columns, no slice array
            rank.ops().download(logits.buffer(), 0, MemorySegment.ofArray(out[rowBase])
                    .asSlice((long) vocab.start() * Float.BYTES, (long) vocab.length() * Float.BYTES));
            return;
        }
        float[] slice = new float[logits.rows() * logits.cols()];
        rank.ops().download(logits.buffer(), 0, MemorySegment.ofArray(slice));
        for (int row = 0; row < logits.rows(); row++) {
            System.arraycopy(slice, row * logits.cols(), out[rowBase + row], vocab.start(), vocab.length());
        }
    }

    @Override
    public void close() {
        try {
            threads.onEveryRank(r -> {
                ranks.get(r).close();
                return null;
            });
        } finally {
            if (graphs != null) {
                graphs.close();
            }
            threads.close();
            ops.forEach(TensorOps::close);
        }
    }
}
