package io.cohort.metrics;

import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;

/** What metrics are kept per: collective, backend, algorithm, message size rounded up to a power of two. */
public record MetricKey(Collective collective, BackendKind backend, String algorithm, long sizeBucket) {

    public static MetricKey of(Collective collective, BackendKind backend, String algorithm, long bytes) {
        return new MetricKey(collective, backend, algorithm, bucketOf(bytes));
    }

    /** Smallest power of two at least {@code bytes} (1 for 0). */
    public static long bucketOf(long bytes) {
        return bytes <= 1 ? 1 : Long.highestOneBit(bytes - 1) << 1;
    }

    /** 512, 8K, 64M, 2G. */
    public static String formatBytes(long bytes) {
        String[] units = {"", "K", "M", "G", "T"};
        int u = 0;
        long v = bytes;
        while (u < units.length - 1 && v >= 1024 && v % 1024 == 0) {
            v /= 1024;
            u++;
        }
        return v + units[u];
    }
}
