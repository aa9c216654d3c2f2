package io.cohort.metrics;

/** One row of {@link CollectiveMetrics#snapshot()}: totals and latency figures for one {@link MetricKey}. */
public record MetricRow(MetricKey key, long count, long failures, long bytes, double meanMicros, double p50Micros,
                        double p99Micros, double maxMicros, double meanEnqueueMicros) {
}
