package io.cohort.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import org.junit.jupiter.api.Test;

class CollectiveMetricsTest {

    @Test
    void percentilesComeFromTheHdrHistogramWithinOnePercent() {
        CollectiveMetrics m = new CollectiveMetrics();
        for (int i = 1; i <= 100; i++) {
            m.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 4096, i * 100L, i * 1_000L);
        }
        MetricSeries s = m.series().getFirst();
        assertEquals(100, s.count());
        assertEquals(50_000, s.percentileNanos(50), 50_000 * 0.01);
        assertEquals(99_000, s.percentileNanos(99), 99_000 * 0.01);
        assertEquals(100_000, s.maxNanos(), 100_000 * 0.01);
        assertEquals(5050.0, s.meanEnqueueNanos(), 1e-9); // means are exact
        assertEquals(50_500.0, s.meanNanos(), 1e-9);
    }

    @Test
    void recordingAnExistingSeriesAllocatesNothing() {
        CollectiveMetrics m = new CollectiveMetrics();
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        for (int i = 0; i < 20_000; i++) { // creates the series and lets the JIT compile the path
            m.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 8192, 5_000 + i, 20_000 + i);
        }
        long before = threads.getThreadAllocatedBytes(id);
        for (int i = 0; i < 10_000; i++) {
            m.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 8192, 5_000 + i, 20_000 + i);
        }
        long allocated = threads.getThreadAllocatedBytes(id) - before;
        assertTrue(allocated < 10_000, allocated + " bytes over 10,000 records"); // < 1 byte per record
    }

    @Test
    void listenersSeeEverySeriesOnceOldAndNew() {
        CollectiveMetrics m = new CollectiveMetrics();
        m.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 100, 1, 2);
        java.util.List<MetricKey> seen = new java.util.ArrayList<>();
        m.onSeries(s -> seen.add(s.key()));
        m.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 100, 1, 2);
        m.recordFailed(Collective.BROADCAST, BackendKind.NATIVE, "ring", 5000);
        assertEquals(java.util.List.of(new MetricKey(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 128),
                new MetricKey(Collective.BROADCAST, BackendKind.NATIVE, "ring", 8192)), seen);
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
