package io.cohort.bench;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/** Prints bench rows the way nccl-tests does (aligned, '#' header lines), and as CSV. */
public final class BenchTable {

    public static final List<String> COLUMNS = List.of("size", "count", "type", "redop", "root", "backend",
            "algorithm", "time", "algbw", "busbw", "#wrong", "enq", "rtt");

    private static final String FORMAT = "%12s %12s %6s %6s %5s %8s %14s %10s %8s %8s %7s %9s %9s%n";
    private static final String HEADER = "#%11s" + FORMAT.substring(4);

    private BenchTable() {
    }

    public static void header(PrintWriter out) {
        out.printf(Locale.ROOT, HEADER, "size", "count", "type", "redop", "root", "backend",
                "algorithm", "time", "algbw", "busbw", "#wrong", "enq", "rtt");
        out.printf(Locale.ROOT, HEADER, "(B)", "(elements)", "", "", "", "", "", "(us)", "(GB/s)",
                "(GB/s)", "", "p50(us)", "p50(us)");
        out.flush();
    }

    public static void row(PrintWriter out, BenchRow r) {
        out.printf(Locale.ROOT, FORMAT, r.size(), r.count(), r.type(), r.redop(), r.root() < 0 ? "-" : r.root(),
                r.backend(), r.algorithm(), fmt(r.timeMicros()), String.format(Locale.ROOT, "%.2f", r.algBwGBps()),
                String.format(Locale.ROOT, "%.2f", r.busBwGBps()), r.wrong(), fmt(r.enqueueMicros()), fmt(r.roundTripMicros()));
        out.flush();
    }

    private static String fmt(double micros) {
        return String.format(Locale.ROOT, micros >= 1000 ? "%.0f" : "%.1f", micros);
    }

    public static String csvHeader() {
        return "collective,size_bytes,count,type,redop,root,backend,algorithm,time_us,algbw_gbps,busbw_gbps,wrong,enqueue_us,enqueue_p99_us,roundtrip_us,roundtrip_p99_us";
    }

    public static String csv(BenchRow r) {
        return String.format(Locale.ROOT, "%s,%d,%d,%s,%s,%d,%s,%s,%.3f,%.4f,%.4f,%d,%.3f,%.3f,%.3f,%.3f", r.collective().cliName(),
                r.size(), r.count(), r.type(), r.redop(), r.root(), r.backend(), r.algorithm(), r.timeMicros(),
                r.algBwGBps(), r.busBwGBps(), r.wrong(), r.enqueueMicros(), r.enqueueP99Micros(), r.roundTripMicros(),
                r.roundTripP99Micros());
    }
}
