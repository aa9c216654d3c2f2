package io.cohort.metrics;

import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts, bytes and time histograms per collective, backend, algorithm and size bucket. Recorded by the
 * coordinator when a collective completes; read by the API ({@code Cohort.metrics()}) and the CLI.
 */
public final class CollectiveMetrics {

    /**
     * The series of one collective, backend, algorithm and size: look it up once ({@link #recorder}) and record
     * into it for every call of that shape, so that recording allocates nothing.
     */
    public static final class Recorder {
        final LatencyHistogram elapsed = new LatencyHistogram();
        final LatencyHistogram enqueue = new LatencyHistogram();
        final LongAdder bytes = new LongAdder();
        final LongAdder failures = new LongAdder();
        public void completed(long messageBytes, long enqueueNanos, long elapsedNanos) {
            elapsed.record(elapsedNanos);
            enqueue.record(enqueueNanos);
            bytes.add(messageBytes);
        }

        public void failed() {
            failures.increment();
        }
    }

    private final ConcurrentHashMap<MetricKey, Recorder> series = new ConcurrentHashMap<>();

    /** The series that calls of this shape record into ({@code bytes}: one call's message size). */
    public Recorder recorder(Collective collective, BackendKind backend, String algorithm, long bytes) {
        return series.computeIfAbsent(MetricKey.of(collective, backend, algorithm, bytes), k -> new Recorder());
    }

    public void recordCompleted(Collective collective, BackendKind backend, String algorithm, long bytes,
                                long enqueueNanos, long elapsedNanos) {
        Recorder s = series.computeIfAbsent(MetricKey.of(collective, backend, algorithm, bytes), k -> new Recorder());
        s.elapsed.record(elapsedNanos);
        s.enqueue.record(enqueueNanos);
        s.bytes.add(bytes);
    }

    public void recordFailed(Collective collective, BackendKind backend, String algorithm, long bytes) {
        recorder(collective, backend, algorithm, bytes).failures.increment();
    }

    /** Every series, ordered by collective, backend, algorithm and size. */
    public List<MetricRow> snapshot() {
        return series.entrySet().stream()
                .map(e -> {
                    Recorder s = e.getValue();
                    return new MetricRow(e.getKey(), s.elapsed.count(), s.failures.sum(), s.bytes.sum(),
                            s.elapsed.meanNanos() / 1e3, s.elapsed.percentileNanos(0.5) / 1e3,
                            s.elapsed.percentileNanos(0.99) / 1e3, s.elapsed.maxNanos() / 1e3,
                            s.enqueue.meanNanos() / 1e3);
                })
                .sorted(Comparator.comparing((MetricRow r) -> r.key().collective())
                        .thenComparing(r -> r.key().backend())
                        .thenComparing(r -> r.key().algorithm())
                        .thenComparingLong(r -> r.key().sizeBucket()))
                .toList();
    }

    /** The snapshot as an aligned text table (for logs and {@code cohort bench --metrics}). */
    public String render() {
        StringBuilder sb = new StringBuilder(String.format("%-15s %-7s %-14s %6s %8s %6s %10s %10s %10s %10s %10s%n",
                "collective", "backend", "algorithm", "size", "count", "failed", "bytes", "mean(us)", "p50(us)",
                "p99(us)", "enq(us)"));
        for (MetricRow r : snapshot()) {
            sb.append(String.format("%-15s %-7s %-14s %6s %8d %6d %10d %10.1f %10.1f %10.1f %10.1f%n",
                    r.key().collective().cliName(), r.key().backend().cliName(), r.key().algorithm(),
                    MetricKey.formatBytes(r.key().sizeBucket()), r.count(), r.failures(), r.bytes(), r.meanMicros(),
                    r.p50Micros(), r.p99Micros(), r.meanEnqueueMicros()));
        }
        return sb.toString();
    }
}
