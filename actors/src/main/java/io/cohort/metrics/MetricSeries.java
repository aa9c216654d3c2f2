package io.cohort.metrics;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;

/**
 * The figures of one {@link MetricKey}: completed count, bytes and failures, and HdrHistograms of the
 * round trip (API call until every rank finished) and of the host path (API call until enqueued). Recording is
 * wait-free and allocates nothing (HdrHistogram's {@code recordValue}, {@link LongAdder}); reads may run
 * concurrently with it. Values are kept from 100 ns to 10 minutes at two significant digits (1%); longer ones
 * count as 10 minutes.
 */
public final class MetricSeries implements CollectiveMetrics.Recorder {
    private static final long LOWEST = 100;
    private static final long HIGHEST = TimeUnit.MINUTES.toNanos(10);

    private final MetricKey key;
    private final ConcurrentHistogram elapsed = new ConcurrentHistogram(LOWEST, HIGHEST, 2);
    private final ConcurrentHistogram enqueue = new ConcurrentHistogram(LOWEST, HIGHEST, 2);
    private final LongAdder elapsedTotal = new LongAdder();
    private final LongAdder enqueueTotal = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder failures = new LongAdder();

    MetricSeries(MetricKey key) {
        this.key = key;
    }

    @Override
    public void completed(long bytes, long enqueueNanos, long elapsedNanos) {
        long e = Math.clamp(elapsedNanos, 0, HIGHEST);
        long q = Math.clamp(enqueueNanos, 0, HIGHEST);
        elapsed.recordValue(e);
        enqueue.recordValue(q);
        elapsedTotal.add(e);
        enqueueTotal.add(q);
        this.bytes.add(bytes);
    }

    @Override
    public void failed() {
        failures.increment();
    }

    public MetricKey key() {
        return key;
    }

    /** Collectives completed. */
    public long count() {
        return elapsed.getTotalCount();
    }

    public long failures() {
        return failures.sum();
    }

    public long bytes() {
        return bytes.sum();
    }

    /** Sum of the round trips, exact. */
    public long totalNanos() {
        return elapsedTotal.sum();
    }

    public double meanNanos() {
        long c = count();
        return c == 0 ? 0 : (double) totalNanos() / c;
    }

    public double meanEnqueueNanos() {
        long c = enqueue.getTotalCount();
        return c == 0 ? 0 : (double) enqueueTotal.sum() / c;
    }

    /** The round trip at {@code percentile} (0..100), within 1%; 0 when empty. */
    public long percentileNanos(double percentile) {
        return count() == 0 ? 0 : elapsed.getValueAtPercentile(percentile);
    }

    /** The host path at {@code percentile} (0..100), within 1%; 0 when empty. */
    public long enqueuePercentileNanos(double percentile) {
        return enqueue.getTotalCount() == 0 ? 0 : enqueue.getValueAtPercentile(percentile);
    }

    public long maxNanos() {
        return count() == 0 ? 0 : elapsed.getMaxValue();
    }

    MetricRow row() {
        return new MetricRow(key, count(), failures(), bytes(), meanNanos() / 1e3, percentileNanos(50) / 1e3,
                percentileNanos(99) / 1e3, maxNanos() / 1e3, meanEnqueueNanos() / 1e3);
    }
}
