package io.cohort.metrics;

import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;

/**
 * Counts, bytes and time histograms ({@link MetricSeries}) per collective, backend, algorithm and size bucket.
 * Recorded when a collective completes; read by the API ({@code Cohort.metrics()}), the CLI and meter
 * registries (cohort-micrometer). Recording a series that exists allocates nothing: collective and backend
 * index arrays, the algorithm name looks up a map without a new key, the size bucket indexes an array.
 */
public final class CollectiveMetrics {

    /** Size buckets are powers of two: 2^0 .. 2^63. */
    private static final int BUCKETS = 64;

    /** [collective][backend] -> algorithm -> series per size bucket. */
    private final ConcurrentHashMap<String, AtomicReferenceArray<MetricSeries>>[][] table;
    private final List<MetricSeries> all = new CopyOnWriteArrayList<>();
    private final List<Consumer<MetricSeries>> listeners = new CopyOnWriteArrayList<>();

    @SuppressWarnings("unchecked")
    public CollectiveMetrics() {
        table = new ConcurrentHashMap[Collective.values().length][BackendKind.values().length];
        for (var row : table) {
            for (int b = 0; b < row.length; b++) {
                row[b] = new ConcurrentHashMap<>();
            }
        }
    }

    /**
     * What calls of one shape record into: look it up once ({@link #recorder}) and record for every call of that
     * shape. Recording allocates nothing.
     */
    public interface Recorder {
        void completed(long messageBytes, long enqueueNanos, long elapsedNanos);

        void failed();
    }

    /** The series that calls of this shape record into ({@code bytes}: one call's message size). */
    public Recorder recorder(Collective collective, BackendKind backend, String algorithm, long bytes) {
        return series(collective, backend, algorithm, bytes);
    }

    public void recordCompleted(Collective collective, BackendKind backend, String algorithm, long bytes,
                                long enqueueNanos, long elapsedNanos) {
        series(collective, backend, algorithm, bytes).completed(bytes, enqueueNanos, elapsedNanos);
    }

    public void recordFailed(Collective collective, BackendKind backend, String algorithm, long bytes) {
        series(collective, backend, algorithm, bytes).failed();
    }

    /**
     * Calls {@code listener} with every series there is and, from now on, with each new one (on the recording
     * thread, once, before its first value): how a meter registry learns of new series.
     */
    public void onSeries(Consumer<MetricSeries> listener) {
        synchronized (all) {
            listeners.add(listener);
            all.forEach(listener);
        }
    }

    /** Every series so far. */
    public List<MetricSeries> series() {
        return List.copyOf(all);
    }

    /** Every series, ordered by collective, backend, algorithm and size. */
    public List<MetricRow> snapshot() {
        List<MetricRow> rows = new ArrayList<>();
        for (MetricSeries s : all) {
            rows.add(s.row());
        }
        rows.sort(Comparator.comparing((MetricRow r) -> r.key().collective())
                .thenComparing(r -> r.key().backend())
                .thenComparing(r -> r.key().algorithm())
                .thenComparingLong(r -> r.key().sizeBucket()));
        return rows;
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

    private MetricSeries series(Collective collective, BackendKind backend, String algorithm, long bytes) {
        var byAlgorithm = table[collective.ordinal()][backend.ordinal()];
        AtomicReferenceArray<MetricSeries> bySize = byAlgorithm.get(algorithm);
        if (bySize == null) {
            bySize = byAlgorithm.computeIfAbsent(algorithm, a -> new AtomicReferenceArray<>(BUCKETS));
        }
        long bucket = MetricKey.bucketOf(bytes);
        int index = 63 - Long.numberOfLeadingZeros(bucket);
        MetricSeries s = bySize.get(index);
        return s != null ? s : create(bySize, index, new MetricKey(collective, backend, algorithm, bucket));
    }

    private MetricSeries create(AtomicReferenceArray<MetricSeries> bySize, int index, MetricKey key) {
        synchronized (all) {
            MetricSeries s = bySize.get(index);
            if (s == null) {
                s = new MetricSeries(key);
                bySize.set(index, s);
                all.add(s);
                for (Consumer<MetricSeries> l : listeners) {
                    l.accept(s);
                }
            }
            return s;
        }
    }
}
