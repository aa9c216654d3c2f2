package io.cohort.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import org.junit.jupiter.api.Test;

class CollectiveMetricsTest {

    @Test
    void histogramPercentilesAreTheUpperBoundOfTheirPowerOfTwoBucket() {
        LatencyHistogram h = new LatencyHistogram();
        for (int i = 0; i < 99; i++) {
            h.record(1_000); // bucket [512, 1024)
        }
        h.record(1_000_000); // bucket [2^19, 2^20)
        assertEquals(100, h.count());
        assertEquals(1023, h.percentileNanos(0.5));
        assertEquals(1023, h.percentileNanos(0.99));
        assertEquals(1_000_000, h.percentileNanos(1.0)); // capped at the maximum seen
        assertEquals((99 * 1_000 + 1_000_000) / 100.0, h.meanNanos(), 1e-9);
    }

    @Test
    void seriesAreKeptPerCollectiveBackendAlgorithmAndSizeBucket() {
        CollectiveMetrics m = new CollectiveMetrics();
        m.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 3000, 10_000, 50_000);
        m.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 4096, 20_000, 70_000);
        m.recordCompleted(Collective.ALL_REDUCE, BackendKind.NATIVE, "ring", 4096, 20_000, 70_000);
        m.recordFailed(Collective.ALL_GATHER, BackendKind.P2P, "one-shot", 100);
        var rows = m.snapshot();
        assertEquals(3, rows.size());
        MetricRow p2p = rows.getFirst();
        assertEquals(new MetricKey(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 4096), p2p.key());
        assertEquals(2, p2p.count());
        assertEquals(7096, p2p.bytes());
        assertEquals(60.0, p2p.meanMicros(), 1e-9);
        assertEquals(15.0, p2p.meanEnqueueMicros(), 1e-9);
        assertEquals(1, rows.getLast().failures());
        assertTrue(m.render().lines().anyMatch(l -> l.startsWith("all-reduce") && l.contains("native") && l.contains("4K")));
    }

    @Test
    void sizesRoundUpToPowersOfTwo() {
        assertEquals(1, MetricKey.bucketOf(0));
        assertEquals(1024, MetricKey.bucketOf(1000));
        assertEquals(1024, MetricKey.bucketOf(1024));
        assertEquals(2048, MetricKey.bucketOf(1025));
        assertEquals("64M", MetricKey.formatBytes(64L << 20));
        assertEquals("1536", MetricKey.formatBytes(1536));
    }
}
