package io.cohort.micrometer;

import io.cohort.api.Cohort;
import io.cohort.metrics.CollectiveMetrics;
import io.cohort.metrics.MetricKey;
import io.cohort.metrics.MetricSeries;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.concurrent.TimeUnit;

/**
 * Binds Cohort's collective metrics to a Micrometer registry, one set of meters per collective, backend,
 * algorithm and size bucket (tags {@code collective}, {@code backend}, {@code algorithm}, {@code size}):
 * <ul>
 *   <li>{@code cohort.collective} (function timer): collectives completed and their total time, API call until
 *       every rank finished;</li>
 *   <li>{@code cohort.collective.latency} (time gauge, tag {@code quantile} 0.5 / 0.99): that time's percentiles;</li>
 *   <li>{@code cohort.collective.enqueue} (time gauge, tag {@code quantile}): the host path, API call until enqueued;</li>
 *   <li>{@code cohort.collective.bytes} and {@code cohort.collective.failures} (function counters).</li>
 * </ul>
 * The meters read Cohort's own series when the registry publishes: nothing is added to the collective's path.
 * Series that appear later (a new size or backend) get their meters when first recorded.
 *
 * <pre>{@code
 * new CohortMeterBinder(cohort).bindTo(registry);
 * }</pre>
 */
public final class CohortMeterBinder implements MeterBinder {

    private final CollectiveMetrics metrics;

    public CohortMeterBinder(CollectiveMetrics metrics) {
        this.metrics = metrics;
    }

    public CohortMeterBinder(Cohort cohort) {
        this(cohort.collectiveMetrics());
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        metrics.onSeries(series -> register(registry, series));
    }

    private static void register(MeterRegistry registry, MetricSeries s) {
        Tags tags = tags(s.key());
        FunctionTimer.builder("cohort.collective", s, MetricSeries::count, MetricSeries::totalNanos, TimeUnit.NANOSECONDS)
                .description("collectives completed, API call until every rank finished").tags(tags).register(registry);
        for (double q : new double[]{0.5, 0.99}) {
            Tags quantile = tags.and("quantile", Double.toString(q));
            TimeGauge.builder("cohort.collective.latency", s, TimeUnit.NANOSECONDS, x -> x.percentileNanos(q * 100))
                    .description("API call until every rank finished, percentile").tags(quantile).register(registry);
            TimeGauge.builder("cohort.collective.enqueue", s, TimeUnit.NANOSECONDS, x -> x.enqueuePercentileNanos(q * 100))
                    .description("API call until every rank's work was enqueued, percentile").tags(quantile)
                    .register(registry);
        }
        FunctionCounter.builder("cohort.collective.bytes", s, MetricSeries::bytes).baseUnit("bytes")
                .description("message bytes of completed collectives").tags(tags).register(registry);
        FunctionCounter.builder("cohort.collective.failures", s, MetricSeries::failures)
                .description("collectives that failed").tags(tags).register(registry);
    }

    static Tags tags(MetricKey key) {
        return Tags.of("collective", key.collective().cliName(), "backend", key.backend().cliName(),
                "algorithm", key.algorithm(), "size", MetricKey.formatBytes(key.sizeBucket()));
    }
}
