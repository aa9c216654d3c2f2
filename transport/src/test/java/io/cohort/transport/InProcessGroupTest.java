package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ranks as threads of this JVM sharing one embedded driver: the protocol without process start-up costs. */
class InProcessGroupTest {

    @TempDir
    Path dir;

    private <T> List<T> onRanks(String group, int n, Function<ProcessGroup, T> body) throws Exception {
        return onRanks(TransportConfig.defaults(), group, n, body);
    }

    private <T> List<T> onRanks(TransportConfig base, String group, int n, Function<ProcessGroup, T> body)
            throws Exception {
        return InProcessRanks.run(dir, base, group, n, body);
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
    void aSmallWindowBackPressuresWithoutLossOrDeadlock() throws Exception {
        // 256 KiB terms: a 128 KiB send window of 8 KiB frames against segments of up to 1.3 MiB
        TransportConfig tight = TransportConfig.from(com.typesafe.config.ConfigFactory.parseString(
                "cohort.transport { term-length = 256k, ipc-mtu = 8k }"));
        onRanks(tight, "inproc-window", 3, g -> Scenarios.allReduceSweep(g, new long[] {1_000_003},
                new ReduceOp[] {ReduceOp.SUM}) + Scenarios.otherCollectives(g, new long[] {300_000}));
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

    @Test
    void ranksMakingDifferentCallsFailInsteadOfMixingData() throws Exception {
        List<String> errors = onRanks("inproc-mismatch", 2, g -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(4096, 64);
                RuntimeException e = assertThrows(PeerFailureException.class,
                        () -> g.allReduce(buf, DType.F32, ReduceOp.SUM, 100 + g.rank()));
                CohortException later = assertThrows(CohortException.class, () -> g.barrier());
                assertTrue(later.getMessage().contains("broken"), later.getMessage());
                return e.getMessage();
            }
        });
        for (String message : errors) {
            assertTrue(message.contains("different calls"), message);
        }
    }

    @Test
    void badArgumentsAreRejectedBeforeAnythingIsSent() {
        TransportConfig cfg = TransportConfig.defaults().withMember("single", 0, 1);
        try (ProcessGroup g = ProcessGroup.join(cfg); Arena arena = Arena.ofConfined()) {
            MemorySegment small = arena.allocate(8);
            CohortException e = assertThrows(CohortException.class, () -> g.allReduce(small, DType.F32, ReduceOp.SUM, 3));
            assertTrue(e.getMessage().contains("rank 0") && e.getMessage().contains("8 bytes"), e.getMessage());
            assertThrows(CohortException.class, () -> g.broadcast(small, DType.F32, 1, 1));
            // a group of one: collectives are local copies
            MemorySegment a = arena.allocate(16);
            Scenarios.fill(a, DType.F32, 3, 0, 4);
            g.allReduce(a, DType.F32, ReduceOp.AVG, 4);
            for (int i = 0; i < 4; i++) {
                Scenarios.checkInput(a, i, DType.F32, 3, 0, i, "size-1 all-reduce");
            }
        }
    }

    @Test
    void aMissingRankFailsTheJoinByName() {
        TransportConfig alone = TransportConfig.defaults().withMember("inproc-missing", 0, 2).withBaseDir(dir.toString())
                .withTimeouts(Duration.ofMillis(1500), Duration.ofSeconds(5));
        PeerFailureException e = assertThrows(PeerFailureException.class, () -> ProcessGroup.join(alone));
        assertEquals(1, e.peerRank());
        assertTrue(e.getMessage().contains("rank 1"), e.getMessage());
        assertDirectoryEmpty();

        TransportConfig noHost = TransportConfig.defaults().withMember("inproc-nohost", 1, 2).withBaseDir(dir.toString())
                .withTimeouts(Duration.ofMillis(500), Duration.ofSeconds(5));
        CohortException e2 = assertThrows(CohortException.class, () -> ProcessGroup.join(noHost));
        assertTrue(e2.getMessage().contains("rank 0 starts it"), e2.getMessage());
    }

    private void assertDirectoryEmpty() {
        String[] left = new File(dir.toString()).list();
        assertFalse(left != null && left.length > 0, "left behind: " + String.join(", ", left == null ? new String[0] : left));
    }
}
