package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Streams of ranks sharing a GPU run side by side: for every ordered pair, a wait on one stream for a flag that
 * the other sets, enqueued after the wait, ends (two streams on one hardware queue would leave the setter behind
 * the waiter until the wait's timeout).
 */
@Tag("gpu")
class QueuePlacementTest {

    @Test
    void everyPairOfRankStreamsRunsSideBySide() {
        CudaDevice d = Gpu.device();
        int n = 8;
        d.sharedByRanks(n);
        List<CudaStream> streams = new ArrayList<>();
        CudaBuffer flags = d.allocate(8L * n * n);
        try {
            d.zeroSync(flags);
            for (int i = 0; i < n; i++) {
                streams.add(d.createStream(FlagOps.KERNELS));   // a kernel wait: it holds its queue as a P2P kernel does
            }
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    if (a == b) {
                        continue;
                    }
                    long slot = 8L * (a * n + b);
                    CudaStream waiter = streams.get(a), setter = streams.get(b);
                    waiter.waitValue(flags, slot, 1);
                    setter.writeValue(flags, slot, 1);
                    assertDoesNotThrow(() -> waiter.synchronize(Duration.ofSeconds(5)),
                            "stream " + a + " waiting for stream " + b);
                    setter.synchronize();
                }
            }
        } finally {
            streams.forEach(CudaStream::close);
            d.free(flags);
        }
    }
}
