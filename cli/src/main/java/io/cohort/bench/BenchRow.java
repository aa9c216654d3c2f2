package io.cohort.bench;

import io.cohort.core.Collective;

/**
 * One measured line, as in nccl-tests: {@code size} bytes ({@code count} elements), mean time per
 * collective over the timed loop, algorithm and bus bandwidth, elements that differed from the reference,
 * and the host path: median time from the API call until every rank's work was enqueued, over calls made one
 * at a time (in the timed loop later calls queue behind earlier ones).
 */
public record BenchRow(Collective collective, long size, long count, String type, String redop, int root,
                       String backend, String algorithm, double timeMicros, double algBwGBps, double busBwGBps,
                       long wrong, double enqueueMicros) {
}
