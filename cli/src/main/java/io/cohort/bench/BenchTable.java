package io.cohort.bench;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/**
 * Prints bench rows the way nccl-tests does (aligned, '#' header lines, out-of-place then in-place), with the
 * host path after them: {@code enq} (API call to work enqueued) and {@code rt} (API call to result back), p50.
 * Local and cluster bench print through this one table. "-" marks what a row has not got.
 */
public final class BenchTable {

    public static final List<String> COLUMNS = List.of("size", "count", "type", "redop", "root", "backend",
            "algorithm", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong", "enq", "rt");

    private static final String KEYS = "%12s %12s %6s %6s %5s %8s %14s";
    private static final String RUN = " %9s %7s %7s %6s";
    private static final String HOST = " %8s %8s";
    private static final String FORMAT = KEYS + RUN + RUN + HOST + "%n";
    private static final String HEADER = "#%11s" + FORMAT.substring(4);
    private static final int KEYS_WIDTH = 12 + 1 + 12 + 1 + 6 + 1 + 6 + 1 + 5 + 1 + 8 + 1 + 14;

    private BenchTable() {
    }

    public static void header(PrintWriter out) {
        out.println("#" + " ".repeat(KEYS_WIDTH - 1) + " " + center("out-of-place", 32) + " " + center("in-place", 32)
                + " " + center("p50", 17));
        out.printf(Locale.ROOT, HEADER, COLUMNS.toArray());
        out.printf(Locale.ROOT, HEADER, "(B)", "(elements)", "", "", "", "", "", "(us)", "(GB/s)", "(GB/s)", "",
                "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(us)");
        out.flush();
    }

    public static void row(PrintWriter out, BenchRow r) {
        BenchRow.Run in = r.inPlace();
        out.printf(Locale.ROOT, FORMAT, r.size(), r.count(), r.type(), r.redop(), r.root() < 0 ? "-" : r.root(),
                r.backend(), r.algorithm(),
                time(r.outOfPlace().timeMicros()), bw(r.outOfPlace().algBwGBps()), bw(r.outOfPlace().busBwGBps()),
                wrong(r.outOfPlace().wrong()),
                in == null ? "-" : time(in.timeMicros()), in == null ? "-" : bw(in.algBwGBps()),
                in == null ? "-" : bw(in.busBwGBps()), in == null ? "-" : wrong(in.wrong()),
                r.enqueue() == null ? "-" : time(r.enqueue().p50Micros()),
                r.roundTrip() == null ? "-" : time(r.roundTrip().p50Micros()));
        out.flush();
    }

    /** nccl-tests' closing lines: wrong elements over every run, and the mean bus bandwidth (out of place). */
    public static void summary(PrintWriter out, List<BenchRow> rows) {
        if (rows.isEmpty()) {
            return;
        }
        double avg = rows.stream().mapToDouble(r -> r.outOfPlace().busBwGBps()).average().orElse(0);
        long wrong = rows.stream().mapToLong(r -> Math.max(0, r.wrong())).sum();
        boolean checked = rows.stream().anyMatch(r -> r.wrong() >= 0);
        out.printf(Locale.ROOT, "# Out of bounds values : %s%n", checked ? wrong + (wrong == 0 ? " OK" : " FAILED") : "N/A");
        out.printf(Locale.ROOT, "# Avg bus bandwidth    : %.3f GB/s%n", avg);
        out.flush();
    }

    static String time(double micros) {
        return String.format(Locale.ROOT, micros >= 1000 ? "%.0f" : "%.1f", micros);
    }

    private static String bw(double gbps) {
        return String.format(Locale.ROOT, "%.2f", gbps);
    }

    private static String wrong(long wrong) {
        return wrong < 0 ? "N/A" : Long.toString(wrong);
    }

    private static String center(String text, int width) {
        int left = Math.max(0, (width - text.length()) / 2);
        return " ".repeat(left) + text + " ".repeat(Math.max(0, width - left - text.length()));
    }
}
