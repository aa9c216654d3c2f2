package io.cohort.cli;

import io.cohort.bench.BenchCsv;
import io.cohort.bench.BenchPlot;
import io.cohort.bench.BenchRow;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cohort plot A.csv B.csv}: compares runs saved with {@code cohort bench --csv} in one picture. */
@Command(name = "plot", mixinStandardHelpOptions = true,
        description = {"Plots saved bench runs (cohort bench --csv) side by side: bus bandwidth and time against "
                + "size, one line per run, backend and algorithm (and collective, dtype, op where they differ)."})
final class PlotCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "CSV", description = "files written by cohort bench --csv")
    List<Path> files;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", defaultValue = "cohort-bench.svg",
            description = "picture to write, .svg or .png (default ${DEFAULT-VALUE})")
    Path output;

    @Option(names = "--title", defaultValue = "cohort bench", description = "title of the charts")
    String title;

    @Override
    public Integer call() throws IOException {
        BenchPlot.Format.of(output);
        Map<String, List<BenchRow>> runs = new LinkedHashMap<>();
        for (Path file : files) {
            String label = file.getFileName().toString().replaceFirst("\\.csv$", "");
            if (runs.containsKey(label)) {
                label = file.toString();
            }
            runs.put(files.size() == 1 ? "" : label, BenchCsv.read(file));
        }
        BenchPlot.write(runs, output, title);
        spec.commandLine().getOut().println("plotted " + runs.values().stream().mapToInt(List::size).sum() + " rows of "
                + files.size() + " file(s) to " + output);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
