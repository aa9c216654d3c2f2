package io.cohort.bench;

import io.cohort.core.Collective;

/**
 * One measured line, as in nccl-tests: {@code size} bytes ({@code count} elements of the full buffer), then the
 * out-of-place and the in-place run (in place: null where the collective has none), and the host path.
 *
 * @param root       the root, or -1 for a collective without one
 * @param variant    what was asked for: a backend ("p2p": auto picks the algorithm per size) or a backend and a
 *                   forced algorithm ("p2p/ring"); backend and algorithm are what ran
 * @param enqueue    API call until every rank's work was enqueued, over calls made one at a time; null where
 *                   not measured (cluster mode)
 * @param roundTrip  API call until the result is back in the caller, over the same calls
 */
public record BenchRow(Collective collective, long size, long count, String type, String redop, int root,
                       String variant, String backend, String algorithm, Run outOfPlace, Run inPlace, Latency enqueue,
                       Latency roundTrip) {

    /**
     * A timed loop of collectives issued back to back: mean time per collective, algorithm and bus bandwidth,
     * and the elements that differed from the reference in a checked run after it (-1: not checked).
     */
    public record Run(double timeMicros, double algBwGBps, double busBwGBps, long wrong) {
    }

    /** Median and 99th percentile, in microseconds. */
    public record Latency(double p50Micros, double p99Micros) {

        /** The percentiles of {@code nanos} (sorted in place); null for none. */
        public static Latency of(long[] nanos, int n) {
            if (n == 0) {
                return null;
            }
            java.util.Arrays.sort(nanos, 0, n);
            return new Latency(nanos[rank(0.5, n)] / 1e3, nanos[rank(0.99, n)] / 1e3);
        }

        private static int rank(double q, int n) {
            return Math.max(0, (int) Math.ceil(q * n) - 1);
        }
    }

    /** Wrong elements of both runs; -1 where nothing was checked. */
    public long wrong() {
        long a = outOfPlace.wrong();
        long b = inPlace == null ? 0 : inPlace.wrong();
        return a < 0 && b <= 0 ? -1 : Math.max(0, a) + Math.max(0, b);
    }
}
