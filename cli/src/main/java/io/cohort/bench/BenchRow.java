package io.cohort.bench;

import io.cohort.core.Collective;

/**
 * One measured line, as in nccl-tests: {@code size} bytes ({@code count} elements), mean time per
 * collective over the timed loop, algorithm and bus bandwidth, elements that differed from the reference,
 * the host path (API call until every rank's work was enqueued) and the round trip (API call until the stage
 * completed), p50 and p99 over calls made one at a time once the path is warm (in the timed loop later calls
 * queue behind earlier ones).
 */
public record BenchRow(Collective collective, long size, long count, String type, String redop, int root,
                       String backend, String algorithm, double timeMicros, double algBwGBps, double busBwGBps,
                       long wrong, double enqueueMicros, double enqueueP99Micros, double roundTripMicros,
                       double roundTripP99Micros) {
}
