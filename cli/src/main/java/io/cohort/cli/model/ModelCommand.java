package io.cohort.cli.model;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.cuda.CopyBandwidth;
import io.cohort.cuda.CudaDevice;
import io.cohort.device.Device;
import io.cohort.device.discovery.DeviceSpec;
import io.cohort.device.discovery.Devices;
import io.cohort.group.LocalGroup;
import io.cohort.model.LlamaConfig;
import io.cohort.model.ProgressBar;
import io.cohort.model.TensorParallelLlama;
import io.cohort.model.TinyLlama;
import io.cohort.nn.AllReduceGroup;
import io.cohort.nn.ArgMax;
import io.cohort.nn.HostAllReduce;
import io.cohort.nn.LocalGroupAllReduce;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cohort model}: run a Llama-style checkpoint tensor-parallel over a group ({@code run}), compare
 * all-reduce backends on it ({@code bench}), or write a tiny random model to try them on ({@code make-tiny}).
 */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = "Tensor-parallel Llama-style models: run, bench, make-tiny.",
        subcommands = {ModelCommand.Run.class, ModelCommand.Bench.class, ModelCommand.MakeTiny.class})
public final class ModelCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Options shared by run and bench: where the model is and how it is spread. */
    static final class Placement {
        @Spec(Spec.Target.MIXEE)
        CommandSpec mixee;

        @Option(names = "--model-dir", required = true, description = "Hugging Face style directory: config.json + *.safetensors.")
        Path modelDir;

        @Option(names = "--tp", defaultValue = "1", description = "Tensor-parallel ranks (default ${DEFAULT-VALUE}).")
        int tp;

        @Option(names = "--devices", defaultValue = "auto",
                description = "Devices: host:N, cuda, cuda:N, cuda:D*R (R ranks on GPU D: a development aid, not a multi-GPU"
                        + " figure) or auto (default ${DEFAULT-VALUE}); the first --tp are used.")
        String devices;

        @Option(names = "--threads-per-rank", defaultValue = "0",
                description = "CPU threads of each host rank's GEMMs (0: cores / tp).")
        int threadsPerRank;

        @Option(names = "--max-seq", defaultValue = "1024", description = "KV cache length (default ${DEFAULT-VALUE}).")
        int maxSeq;

        @Option(names = "--max-batch", defaultValue = "64",
                description = "Tokens per forward step; longer prompts are prefilled in chunks (default ${DEFAULT-VALUE}).")
        int maxBatch;

        @Option(names = "--timeout", defaultValue = "2m", description = "Limit of one step and of each all-reduce (default ${DEFAULT-VALUE}).")
        String timeout;

        @Option(names = "--graphs", description = "Decode steps as CUDA graphs, captured once per rank and replayed per"
                + " token (CUDA devices; bench prints eager and graph rows side by side).")
        boolean graphs;

        /** The configuration of the command line ({@code --config} over the defaults), checked. */
        Config config() {
            return mixee == null || !(mixee.root().userObject() instanceof io.cohort.cli.CohortCli cli)
                    ? ConfigFactory.load() : cli.config();
        }

        TensorParallelLlama.Options options() {
            int threads = threadsPerRank > 0 ? threadsPerRank
                    : Math.max(1, Runtime.getRuntime().availableProcessors() / Math.max(1, tp));
            Duration step = ConfigFactory.parseString("t = " + timeout).getDuration("t");
            return new TensorParallelLlama.Options(maxSeq, maxBatch, threads, step, Duration.ofHours(1),
                    ProgressBar.Mode.detect(), graphs);
        }
    }

    /** A loaded model and what it runs on; closing it closes both. */
    record Session(TensorParallelLlama model, String backend, AutoCloseable group) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            try (AutoCloseable g = group) {
                model.close();
            }
        }
    }

    /**
     * Loads the model over the first {@code tp} devices with {@code backend}: a collective backend (auto, p2p,
     * native, nccl) through a {@link LocalGroup} of those devices, or {@code reference}, the in-process host
     * all-reduce the tests use as ground truth.
     */
    static Session open(List<Device> devices, Placement p, String backend) {
        List<Device> ranks = devices.subList(0, p.tp);
        AllReduceGroup allReduce;
        AutoCloseable closeable;
        String label;
        if (backend.equalsIgnoreCase("reference")) {
            allReduce = new HostAllReduce(p.tp);
            closeable = () -> { };
            label = "reference";
        } else {
            LocalGroup.Builder builder = LocalGroup.builder(ranks).config(p.config()).backend(BackendKind.parse(backend));
            if (Devices.distinct(ranks).size() < ranks.size()) {
                builder.sharedDevices(); // --devices cuda:0*2: the ranks' own streams and pools on one device
            }
            LocalGroup group = builder.open();
            allReduce = new LocalGroupAllReduce(group);
            closeable = group;
            label = group.backendChoice().chosen().cliName() + (backend.equalsIgnoreCase("auto") ? " (auto)" : "");
        }
        try {
            // the reference all-reduce meets on the host: nothing to capture at tp > 1 (bench prints it eager only)
            TensorParallelLlama.Options options = p.options().withGraphs(p.graphs && !(p.tp > 1 && label.equals("reference")));
            return new Session(TensorParallelLlama.load(p.modelDir, ranks, allReduce, options), label, closeable);
        } catch (RuntimeException e) {
            try {
                closeable.close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** The devices of {@code --devices} (plain {@code host}: at least one per rank); closed with the handle. */
    static OpenDevices devices(Placement p) {
        if (!java.nio.file.Files.isDirectory(p.modelDir)) {   // before devices and groups start for nothing
            throw new IllegalArgumentException("model directory " + p.modelDir + " does not exist");
        }
        Config cohort = p.config().getConfig("cohort");
        cohort = ConfigFactory.parseMap(Map.of("devices.host-count", Math.max(p.tp, cohort.getInt("devices.host-count"))))
                .withFallback(cohort);
        OpenDevices open = new OpenDevices(Devices.open(DeviceSpec.parse(p.devices), cohort).devices());
        if (open.list().size() < p.tp) {
            open.close();
            throw new IllegalArgumentException("--tp " + p.tp + " needs " + p.tp + " devices, --devices " + p.devices
                    + " gave " + open.list().size());
        }
        return open;
    }

    record OpenDevices(List<Device> list) implements AutoCloseable {
        @Override
        public void close() {
            Devices.closeAll(list);
        }
    }

    static int[] parseTokens(String csv) {
        try {
            return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                    .mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--tokens takes comma-separated token ids, got '" + csv + "'");
        }
    }

    static int argmax(float[] logits) {
        return ArgMax.of(logits);
    }

    /** "id:logit" of the {@code k} largest logits, largest first. */
    static String top(float[] logits, int k) {
        Integer[] idx = new Integer[logits.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Float.compare(logits[b], logits[a]));
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(k, idx.length); i++) {
            s.append(i == 0 ? "" : "  ").append(String.format(Locale.ROOT, "%d:%.4f", idx[i], logits[idx[i]]));
        }
        return s.toString();
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = "Prefill --tokens, then greedily decode --decode tokens; print the top logits of each step.")
    static final class Run implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Placement placement;

        @Option(names = "--tp-backend", defaultValue = "auto",
                description = "All-reduce backend: auto, p2p, native, nccl or reference (default ${DEFAULT-VALUE}).")
        String backend;

        @Option(names = "--tokens", required = true, description = "Prompt token ids, comma-separated.")
        String tokens;

        @Option(names = "--decode", defaultValue = "0", description = "Greedy decode steps after the prompt (default ${DEFAULT-VALUE}).")
        int decode;

        @Option(names = "--top", defaultValue = "5", description = "Logits to print per step (default ${DEFAULT-VALUE}).")
        int top;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            int[] prompt = parseTokens(tokens);
            try (OpenDevices devices = devices(placement);
                 Session s = open(devices.list(), placement, backend)) {
                LlamaConfig c = s.model().config();
                out.printf(Locale.ROOT, "model: %d layers, hidden %d, %d heads / %d kv heads, vocab %d; tp = %d, all-reduce: %s%n",
                        c.layers(), c.hiddenSize(), c.heads(), c.kvHeads(), c.vocabSize(), s.model().tp(), s.backend());
                long t0 = System.nanoTime();
                float[] logits = s.model().next(prompt);
                long t1 = System.nanoTime();
                out.printf(Locale.ROOT, "prefill %d tokens: %.2f ms%n  top: %s%n", prompt.length, (t1 - t0) / 1e6, top(logits, top));
                List<Integer> generated = new ArrayList<>();
                for (int i = 0; i < decode; i++) {
                    int next = argmax(logits);
                    generated.add(next);
                    long d0 = System.nanoTime();
                    logits = s.model().next(next);
                    out.printf(Locale.ROOT, "decode %d (token %d): %.2f ms%n  top: %s%n", i + 1, next,
                            (System.nanoTime() - d0) / 1e6, top(logits, top));
                }
                if (decode > 0) {
                    out.println("generated: " + generated);
                }
                out.flush();
            }
            return 0;
        }
    }

    @Command(name = "bench", mixinStandardHelpOptions = true,
            description = "Time prefill and decode per token on one model with each all-reduce backend. Decode is "
                    + "greedy, its argmax on the devices; the last step's logits come to the host for max |dlogit|.")
    static final class Bench implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Placement placement;

        @Option(names = "--backends", split = ",", defaultValue = "reference,auto",
                description = "Backends to compare, comma-separated (default ${DEFAULT-VALUE}).")
        List<String> backends;

        @Option(names = "--prompt-len", defaultValue = "32", description = "Prompt tokens (default ${DEFAULT-VALUE}).")
        int promptLen;

        @Option(names = "--decode", defaultValue = "16", description = "Decode steps per iteration (default ${DEFAULT-VALUE}).")
        int decode;

        @Option(names = "--warmup", defaultValue = "1", description = "Untimed iterations (default ${DEFAULT-VALUE}).")
        int warmup;

        @Option(names = "--iters", defaultValue = "3", description = "Timed iterations (default ${DEFAULT-VALUE}).")
        int iters;

        @Option(names = "--profile", description = "Also print the device time per kernel of one eager decode step "
                + "on rank 0 (CUDA events around every launch).")
        boolean profile;

        @Option(names = "--host-argmax", description = "Bring every decode step's logits to the host and take the "
                + "argmax there (by default only the devices' argmax comes back).")
        boolean hostArgmax;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            requireAtLeast("--prompt-len", promptLen, 1);
            requireAtLeast("--decode", decode, 0);
            requireAtLeast("--warmup", warmup, 0);
            requireAtLeast("--iters", iters, 1);
            float[] baseline = null;
            try (OpenDevices devices = devices(placement)) {
                // the weight-streaming floor: the busiest device's weight bytes / its copy bandwidth, same run
                copyGBs = devices.list().getFirst() instanceof CudaDevice gpu ? CopyBandwidth.measure(gpu, 1L << 30) : 0;
                if (copyGBs > 0) {
                    out.printf(Locale.ROOT, "copy bandwidth of %s (D2D, 1 GiB, read + write): %.0f GB/s%n",
                            devices.list().getFirst().name(), copyGBs);
                }
                boolean header = false;
                for (String backend : backends) {
                    try (Session s = open(devices.list(), placement, backend)) {
                        if (!header) {   // after the first model loaded: a model that cannot be split prints no table
                            out.printf(Locale.ROOT, "%-16s %4s %12s %15s %14s %12s %14s %13s %10s %8s%n", "backend",
                                    "tp", "prefill ms", "prefill ms/tok", "decode ms/tok", "all-reduces",
                                    "reduce host ms", "max |dlogit|", "floor ms", "% floor");
                            header = true;
                        }
                        boolean both = placement.graphs && s.model().graphsLoaded();
                        for (boolean graphs : both ? new boolean[] {false, true} : new boolean[] {false}) {
                            s.model().useGraphs(graphs);
                            baseline = row(out, s, graphs, baseline);
                        }
                        if (profile && devices.list().getFirst() instanceof CudaDevice) {
                            out.println("# " + backend + ": one eager decode step, rank 0, after the rows above");
                            s.model().profileDecodeStep(1).render().lines().forEach(l -> out.println("# " + l));
                        } else if (profile) {
                            out.println("# --profile times CUDA kernels; rank 0 runs on " + devices.list().getFirst().name());
                        }
                    }
                }
            }
            return 0;
        }

        private double copyGBs;

        private static void requireAtLeast(String option, int value, int least) {
            if (value < least) {
                throw new IllegalArgumentException(option + " must be at least " + least + ", got " + value);
            }
        }

        /** One row: warm-up, then timed iterations of prefill + decode; returns the baseline logits. */
        private float[] row(PrintWriter out, Session s, boolean graphs, float[] baseline) {
            int vocab = s.model().config().vocabSize();
            int[] prompt = new int[promptLen];
            for (int i = 0; i < promptLen; i++) {
                prompt[i] = (i * 7919 + 13) % vocab;
            }
            double prefill = 0, decodeTotal = 0;
            long reducesBefore = 0, nanosBefore = 0, inKernelsBefore = 0;
            float[] last = null;
            for (int it = 0; it < warmup + iters; it++) {
                if (it == warmup) {
                    reducesBefore = s.model().allReduces();
                    nanosBefore = s.model().allReduceNanos();
                    inKernelsBefore = s.model().allReducesInKernels();
                }
                s.model().reset();
                long t0 = System.nanoTime();
                float[] logits = s.model().next(prompt);
                long t1 = System.nanoTime();
                // greedy decode with the argmax on the devices (nextGreedy: the logits stay there); the last step
                // brings its logits to the host for the comparison across backends
                int token = argmax(logits);
                for (int d = 0; d + 1 < decode; d++) {
                    token = hostArgmax ? argmax(s.model().next(token)) : s.model().nextGreedy(token);
                }
                if (decode > 0) {
                    logits = s.model().next(token);
                }
                long t2 = System.nanoTime();
                if (it >= warmup) {
                    prefill += (t1 - t0) / 1e6;
                    decodeTotal += (t2 - t1) / 1e6;
                }
                last = logits;
            }
            float[] base = baseline == null ? last : baseline;
            double diff = 0;
            for (int i = 0; i < last.length; i++) {
                diff = Math.max(diff, Math.abs(last[i] - base[i]));
            }
            long reduces = s.model().allReduces() - reducesBefore;
            double reduceMs = (s.model().allReduceNanos() - nanosBefore) / 1e6;
            double decodeMs = decode == 0 ? 0.0 : decodeTotal / iters / decode;
            double floorMs = copyGBs > 0 ? s.model().maxWeightBytesPerDevice() / (copyGBs * 1e6) : 0;
            out.printf(Locale.ROOT, "%-16s %4d %12.2f %15.3f %14.3f %12d %14.2f %13.2e %10s %8s%n",
                    s.backend() + (graphs ? "+graphs" : ""), placement.tp, prefill / iters, prefill / iters / promptLen,
                    decodeMs, reduces / iters, reduceMs / iters, diff,
                    floorMs > 0 ? String.format(Locale.ROOT, "%.3f", floorMs) : "-",
                    floorMs > 0 && decodeMs > 0 ? String.format(Locale.ROOT, "%.0f%%", 100 * floorMs / decodeMs) : "-");
            long inKernels = s.model().allReducesInKernels() - inKernelsBefore;
            if (inKernels > 0) {
                out.printf(Locale.ROOT, "# %s: %d of the %d all-reduces an iteration ran as the row-parallel GEMV's epilogue"
                        + " (cohort.nn.arInGemv)%n", s.backend() + (graphs ? "+graphs" : ""), inKernels / iters, reduces / iters);
            }
            out.flush();
            return base;
        }
    }

    @Command(name = "make-tiny", mixinStandardHelpOptions = true,
            description = "Write a small Llama with random weights (config.json + safetensors).")
    static final class MakeTiny implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--out", required = true, description = "Directory to write.")
        Path out;

        @Option(names = "--dtype", defaultValue = "bf16", description = "Weight dtype: f32, f16, bf16 (default ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--hidden", defaultValue = "64")
        int hidden;

        @Option(names = "--intermediate", defaultValue = "128")
        int intermediate;

        @Option(names = "--layers", defaultValue = "2")
        int layers;

        @Option(names = "--heads", defaultValue = "4")
        int heads;

        @Option(names = "--kv-heads", defaultValue = "2")
        int kvHeads;

        @Option(names = "--vocab", defaultValue = "128")
        int vocab;

        @Option(names = "--max-positions", defaultValue = "2048")
        int maxPositions;

        @Option(names = "--files", defaultValue = "1", description = "Safetensors files (more than one adds an index).")
        int files;

        @Option(names = "--seed", defaultValue = "42")
        long seed;

        @Option(names = "--threads", defaultValue = "0",
                description = "Threads generating and writing tensors (0: every core); heap stays at 4 MiB per thread.")
        int threads;

        @Override
        public Integer call() {
            if (hidden % heads != 0) {
                throw new IllegalArgumentException("--hidden " + hidden + " is not a multiple of --heads " + heads);
            }
            LlamaConfig c = new LlamaConfig("llama", hidden, intermediate, layers, heads, kvHeads, hidden / heads, vocab,
                    1e-5, 10000.0, maxPositions, false);
            long t0 = System.nanoTime();
            long bytes = TinyLlama.write(out, c, DType.parse(dtype), seed, files,
                    threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
            double seconds = (System.nanoTime() - t0) / 1e9;
            spec.commandLine().getOut().printf(Locale.ROOT,
                    "wrote %s: %d layers, hidden %d, %d heads / %d kv heads, vocab %d, %s; %s in %.1f s%n",
                    out, layers, hidden, heads, kvHeads, vocab, DType.parse(dtype),
                    ProgressBar.human(bytes), seconds);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }
}
