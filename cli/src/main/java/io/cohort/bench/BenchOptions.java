package io.cohort.bench;

import com.typesafe.config.Config;
import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options {@code cohort bench} and {@code cohort coordinator bench} share (a picocli mixin): what to
 * measure, sizes, iterations, warm-up and latency budgets, and the CSV and plot outputs. Unset options take
 * {@code cohort.cli.bench} from the configuration.
 */
public final class BenchOptions {

    @Option(names = {"--collectives", "--collective"}, split = ",", paramLabel = "C",
            description = "all-reduce, broadcast, reduce, reduce-scatter, all-gather, or all")
    List<String> collectives;

    @Option(names = {"-d", "--dtype"}, paramLabel = "T", description = "f32, f16, bf16, a comma list, or all")
    String dtype;

    @Option(names = {"-o", "--op"}, paramLabel = "OP", description = "sum, avg, max, min, a comma list, or all")
    String op;

    @Option(names = "--root", defaultValue = "0", description = "root of broadcast and reduce (default 0)")
    int root;

    @Option(names = {"-b", "--min-bytes"}, paramLabel = "SIZE", description = "smallest size, e.g. 8K")
    String minBytes;

    @Option(names = {"-e", "--max-bytes"}, paramLabel = "SIZE", description = "largest size, e.g. 64M")
    String maxBytes;

    @Option(names = {"-f", "--factor"}, paramLabel = "N", description = "size multiplier per step (2 or 4, ...)")
    Integer factor;

    @Option(names = {"-n", "--iters"}, paramLabel = "N", description = "timed collectives per size, back to back")
    Integer iters;

    @Option(names = {"-w", "--warmup"}, paramLabel = "N",
            description = "most warm-up calls per case, one at a time (bounded by --warmup-time; at least 3)")
    Integer warmup;

    @Option(names = "--warmup-time", paramLabel = "DURATION", description = "longest warm-up per case, e.g. 500ms")
    String warmupTime;

    @Option(names = "--latency-calls", paramLabel = "N",
            description = "most calls per case that measure enq and rt (bounded by --latency-time; at least 3)")
    Integer latencyCalls;

    @Option(names = "--latency-time", paramLabel = "DURATION", description = "longest latency measurement per case")
    String latencyTime;

    @Option(names = "--csv", paramLabel = "FILE", description = "also write the rows as CSV (with p99 of enq and rt)")
    File csv;

    @Option(names = "--plot", paramLabel = "FILE", description = "also plot busbw and time against size (.svg or .png; repeat for both)")
    List<File> plot;

    public List<File> plots() {
        return plot == null ? List.of() : plot;
    }

    /** Writes the CSV and the plots asked for, one line each on {@code out}. */
    public void writeOutputs(List<BenchRow> rows, String title, PrintWriter out) {
        try {
            if (csv != null) {
                BenchCsv.write(csv.toPath(), rows);
                out.println("# wrote " + rows.size() + " rows to " + csv);
            }
            for (File f : plots()) {
                BenchPlot.write(rows, f.toPath(), title);
                out.println("# plotted " + rows.size() + " rows to " + f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The run these options ask for, {@code d} ({@code cohort.cli.bench}) filling what is unset; fails on a bad plot name first. */
    public BenchSpec spec(Config d, List<BackendKind> backends, List<String> algorithms) {
        plots().forEach(f -> BenchPlot.Format.of(f.toPath())); // a wrong extension fails before anything runs
        return new BenchSpec(backends,
                BenchArgs.collectives(collectives == null ? d.getStringList("collectives") : collectives),
                algorithms,
                BenchArgs.listOrAll(dtype != null ? dtype : d.getString("dtype"), DType.values(), DType::parse),
                BenchArgs.listOrAll(op != null ? op : d.getString("op"), ReduceOp.values(), ReduceOp::parse),
                root,
                ByteSizes.parse(minBytes != null ? minBytes : d.getString("min-bytes")),
                ByteSizes.parse(maxBytes != null ? maxBytes : d.getString("max-bytes")),
                factor != null ? factor : d.getInt("factor"),
                iters != null ? iters : d.getInt("iters"),
                new BenchSpec.Budget(warmup != null ? warmup : d.getInt("warmup.calls"),
                        warmupTime != null ? BenchArgs.duration(warmupTime, "--warmup-time") : d.getDuration("warmup.time")),
                new BenchSpec.Budget(latencyCalls != null ? latencyCalls : d.getInt("latency.calls"),
                        latencyTime != null ? BenchArgs.duration(latencyTime, "--latency-time") : d.getDuration("latency.time")));
    }
}
