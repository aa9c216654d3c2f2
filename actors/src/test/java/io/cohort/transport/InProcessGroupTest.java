package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ranks as threads of this JVM sharing one embedded driver: the protocol without process start-up costs. */
class InProcessGroupTest {

    @TempDir
    Path dir;

    private <T> List<T> onRanks(String group, int n, Function<ProcessGroup, T> body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                TransportConfig cfg = TransportConfig.defaults().withMember(group, r, n).withBaseDir(dir.toString())
                        .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(10));
                futures.add(pool.submit(() -> {
                    try (ProcessGroup g = ProcessGroup.join(cfg)) {
                        return body.apply(g);
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(60, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void allReduceEveryDtypeOpAndSizeOnThreeRanks() throws Exception {
        List<Integer> cases = onRanks("inproc-ar", 3,
                g -> Scenarios.allReduceSweep(g, Scenarios.SIZES, ReduceOp.values()));
        assertEquals(3 * 4 * Scenarios.SIZES.length, cases.get(0));
        assertDirectoryEmpty();
    }

    @Test
    void otherCollectivesOnThreeRanks() throws Exception {
        onRanks("inproc-other", 3, g -> Scenarios.otherCollectives(g, new long[] {0, 1, 7, 1009, 40000}));
        assertDirectoryEmpty();
    }

    @Test
    void twoRanks() throws Exception {
        onRanks("inproc-two", 2, g -> Scenarios.allReduceSweep(g, new long[] {1, 7, 65537}, ReduceOp.values())
                + Scenarios.otherCollectives(g, new long[] {1, 1009}));
        assertDirectoryEmpty();
    }

    @Test
    void staleAndDuplicateFramesAreDropped() throws Exception {
        int n = 2;
        long count = 5000;
        List<Long> dropped = onRanks("inproc-stale", n, g -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(count * 4, 64);
                for (long round = 0; round < 4; round++) {
                    if (g.rank() == 0 && round > 0) {
                        // what a late or duplicated frame would look like: an earlier collective's pieces, a repeat of
                        // this one's first piece (already consumed by then) and a frame of a foreign group
                        byte[] garbage = new byte[1024];
                        java.util.Arrays.fill(garbage, (byte) 0x7f);
                        long previous = g.sequence();
                        assertTrue(g.link().inject(previous, 0, 0, 0, garbage));
                        assertTrue(g.link().inject(previous - 1, 1, 0, 0, garbage));
                        assertTrue(g.link().inject(0, 0, 0, 0, garbage));
                    }
                    long seed = 77 + round;
                    Scenarios.fill(buf, DType.F32, seed, g.rank(), count);
                    g.allReduce(buf, DType.F32, ReduceOp.SUM, count);
                    for (long i = 0; i < count; i++) {
                        Scenarios.checkReduced(buf, i, DType.F32, ReduceOp.SUM, seed, n, i, "stale round " + round);
                    }
                }
                return g.droppedFrames();
            }
        });
        assertTrue(dropped.get(1) >= 9, "rank 1 dropped " + dropped.get(1) + " injected frames");
    }

    @Test
    void aForeignSessionOnTheSameStreamIsIgnored() throws Exception {
        onRanks("inproc-foreign", 2, g -> {
            if (g.rank() == 0) {
                // a stranger publishing well-formed frames for this group on rank 1's inbox stream
                try (var pub = g.transportForTest().aeron().addExclusivePublication("aeron:ipc",
                        g.config().streamId() + 1)) {
                    var buf = new org.agrona.concurrent.UnsafeBuffer(new byte[Frame.HEADER_LENGTH + 64]);
                    for (int i = 0; i < 20; i++) {
                        Frame.write(buf, 0, Frame.DATA, Frame.groupId(g.name()), g.sequence() + 1, 0, i, 1, 0);
                        pub.offer(buf);
                    }
                }
            }
            g.barrier();
            return Scenarios.allReduceSweep(g, new long[] {1009}, new ReduceOp[] {ReduceOp.SUM});
        });
    }

    private void assertDirectoryEmpty() {
        String[] left = new File(dir.toString()).list();
        assertFalse(left != null && left.length > 0, "left behind: " + String.join(", ", left == null ? new String[0] : left));
    }
}
