package io.cohort.bench;

import io.cohort.core.Collective;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Bench rows as CSV, one line per row, with p50 and p99 of the host path and the round trip; read back by
 * {@code cohort plot}. Missing values (no in-place form, not measured) are empty fields.
 */
public final class BenchCsv {

    public static final String HEADER = "collective,size_bytes,count,type,redop,root,variant,backend,algorithm,"
            + "time_us,algbw_gbps,busbw_gbps,wrong,inplace_time_us,inplace_algbw_gbps,inplace_busbw_gbps,inplace_wrong,"
            + "enqueue_p50_us,enqueue_p99_us,roundtrip_p50_us,roundtrip_p99_us";

    private BenchCsv() {
    }

    public static String line(BenchRow r) {
        BenchRow.Run in = r.inPlace();
        return String.join(",", r.collective().cliName(), Long.toString(r.size()), Long.toString(r.count()), r.type(),
                r.redop(), Integer.toString(r.root()), r.variant(), r.backend(), r.algorithm(),
                run(r.outOfPlace()), in == null ? ",,," : run(in),
                latency(r.enqueue()), latency(r.roundTrip()));
    }

    public static void write(Path file, List<BenchRow> rows) throws IOException {
        List<String> lines = new ArrayList<>(rows.size() + 1);
        lines.add(HEADER);
        rows.forEach(r -> lines.add(line(r)));
        Files.write(file, lines);
    }

    /** The rows of a file written by {@link #write}; a file of another shape is one clear error. */
    public static List<BenchRow> read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no such file: " + file);
        }
        List<String> lines = Files.readAllLines(file);
        if (lines.isEmpty() || !lines.getFirst().equals(HEADER)) {
            throw new IllegalArgumentException(file + " is not a CSV written by cohort bench --csv (first line differs)");
        }
        List<BenchRow> rows = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            String[] f = lines.get(i).split(",", -1);
            try {
                rows.add(new BenchRow(Collective.parse(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]), f[3], f[4],
                        Integer.parseInt(f[5]), f[6], f[7], f[8], run(f, 9), f[13].isEmpty() ? null : run(f, 13),
                        latency(f, 17), latency(f, 19)));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": not a bench row (" + e.getMessage() + ")");
            }
        }
        return rows;
    }

    private static String run(BenchRow.Run r) {
        return String.format(Locale.ROOT, "%.3f,%.4f,%.4f,%s", r.timeMicros(), r.algBwGBps(), r.busBwGBps(),
                r.wrong() < 0 ? "" : Long.toString(r.wrong()));
    }

    private static String latency(BenchRow.Latency l) {
        return l == null ? "," : String.format(Locale.ROOT, "%.3f,%.3f", l.p50Micros(), l.p99Micros());
    }

    private static BenchRow.Run run(String[] f, int at) {
        return new BenchRow.Run(Double.parseDouble(f[at]), Double.parseDouble(f[at + 1]), Double.parseDouble(f[at + 2]),
                f[at + 3].isEmpty() ? -1 : Long.parseLong(f[at + 3]));
    }

    private static BenchRow.Latency latency(String[] f, int at) {
        return f[at].isEmpty() ? null : new BenchRow.Latency(Double.parseDouble(f[at]), Double.parseDouble(f[at + 1]));
    }
}
