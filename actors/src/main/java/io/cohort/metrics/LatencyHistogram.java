package io.cohort.metrics;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * Durations in power-of-two nanosecond buckets (bucket i holds [2^i, 2^(i+1)) ns): lock-free to record from
 * the coordinator, cheap to read from any thread. Percentiles are the upper bound of their bucket (within 2x).
 */
public final class LatencyHistogram {
    private static final int BUCKETS = 48;

    private final AtomicLongArray buckets = new AtomicLongArray(BUCKETS);
    private final LongAdder count = new LongAdder();
    private final LongAdder sum = new LongAdder();
    private final LongAccumulator max = new LongAccumulator(Math::max, 0);

    public void record(long nanos) {
        long n = Math.max(1, nanos);
        buckets.incrementAndGet(Math.min(BUCKETS - 1, 63 - Long.numberOfLeadingZeros(n)));
        count.increment();
        sum.add(n);
        max.accumulate(n);
    }

    public long count() {
        return count.sum();
    }

    public double meanNanos() {
        long c = count.sum();
        return c == 0 ? 0 : (double) sum.sum() / c;
    }

    public long maxNanos() {
        return max.get();
    }

    /** Upper bound of the bucket holding the {@code quantile} (0..1) of recorded values; 0 when empty. */
    public long percentileNanos(double quantile) {
        long total = 0;
        long[] snapshot = new long[BUCKETS];
        for (int i = 0; i < BUCKETS; i++) {
            snapshot[i] = buckets.get(i);
            total += snapshot[i];
        }
        if (total == 0) {
            return 0;
        }
        long rank = (long) Math.ceil(quantile * total);
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += snapshot[i];
            if (seen >= rank && snapshot[i] > 0) {
                return Math.min(maxNanos(), (1L << (i + 1)) - 1);
            }
        }
        return maxNanos();
    }
}
