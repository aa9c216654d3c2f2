package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two ranks over UDP on 127.0.0.1 with announced sources, and an intruder on the same host that knows the group
 * (name, stream, ranks, even the call's signature): it says HELLO as rank 0 and sends well-formed DATA frames to
 * rank 1's endpoint from a port nobody announced, from before the join until after the last collective. Rank 1
 * never binds it, drops and counts every frame it sent, and every result matches the reference.
 */
class UnannouncedSourceTest {

    @TempDir
    Path dir;

    @Test
    void framesFromAnUnannouncedSourceAreDroppedAndCountedAndResultsStayCorrect() throws Exception {
        String group = "udp-sources";
        int n = 2;
        List<String> endpoints = List.of("127.0.0.1:" + freeUdpPort(), "127.0.0.1:" + freeUdpPort());
        List<String> sources = List.of("127.0.0.1:" + freeUdpPort(), "127.0.0.1:" + freeUdpPort());
        TransportConfig base = TransportConfig.defaults().withBaseDir(dir.toString())
                .withTimeouts(Duration.ofSeconds(15), Duration.ofSeconds(10));
        long count = 20_000;
        int signature = Frame.signature(Collective.ALL_REDUCE.ordinal(), DType.F32.ordinal(), ReduceOp.SUM.ordinal(),
                count, 0);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong injected = new AtomicLong();
        // the intruder's own driver, sending from an ephemeral port of 127.0.0.1
        TransportConfig intruderConfig = base.withMember("intruder", 0, 2).withUdp(List.of(
                "127.0.0.1:" + freeUdpPort(), endpoints.get(1)));
        ExecutorService pool = Executors.newFixedThreadPool(n + 1);
        try (AeronTransport intruder = AeronTransport.start(intruderConfig);
             var pub = intruder.publicationTo(1)) {
            Future<?> attack = pool.submit(() -> {
                UnsafeBuffer frame = new UnsafeBuffer(new byte[Frame.HEADER_LENGTH + 1024]);
                frame.setMemory(Frame.HEADER_LENGTH, 1024, (byte) 0x3f);
                int id = Frame.groupId(group);
                while (!stop.get()) {
                    Frame.write(frame, 0, Frame.HELLO, id, 0, 0, 0, 0, 0);
                    long hello = pub.offer(frame, 0, Frame.HEADER_LENGTH);
                    for (int seq = 1; seq <= 3; seq++) {
                        Frame.write(frame, 0, Frame.DATA, id, seq, 0, 0, 0, signature);
                        if (pub.offer(frame) > 0) {
                            injected.incrementAndGet();
                        }
                    }
                    if (hello > 0) {
                        injected.incrementAndGet();
                    }
                    java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                }
                return null;
            });
            List<Future<long[]>> ranks = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                TransportConfig cfg = base.withMember(group, r, n).withUdp(endpoints, sources);
                ranks.add(pool.submit(() -> {
                    try (ProcessGroup g = ProcessGroup.join(cfg); Arena arena = Arena.ofConfined()) {
                        MemorySegment buf = arena.allocate(count * 4, 64);
                        for (int round = 0; round < 3; round++) {
                            long seed = 40 + round;
                            Scenarios.fill(buf, DType.F32, seed, g.rank(), count);
                            g.allReduce(buf, DType.F32, ReduceOp.SUM, count);
                            for (long i = 0; i < count; i++) {
                                Scenarios.checkReduced(buf, i, DType.F32, ReduceOp.SUM, seed, n, i, "round " + round);
                            }
                        }
                        return new long[] {g.droppedUnannounced(), g.droppedFrames()};
                    }
                }));
            }
            long[] rank1 = ranks.get(1).get(60, TimeUnit.SECONDS);
            ranks.get(0).get(60, TimeUnit.SECONDS);
            stop.set(true);
            attack.get(10, TimeUnit.SECONDS);
            assertTrue(injected.get() > 0, "the intruder's publication never connected");
            assertTrue(rank1[0] > 0, "rank 1 counted no frame from the unannounced source (dropped: " + rank1[1] + ")");
            assertEquals(rank1[0], Math.min(rank1[0], rank1[1]), "unannounced frames are among the dropped ones");
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
        String[] left = dir.toFile().list((d, name) -> name.startsWith("cohort-" + group));
        assertFalse(left != null && left.length > 0, "driver directories left behind");
    }

    @Test
    void theFilterComparesHostAndAnnouncedPort() {
        TransportConfig withSources = TransportConfig.defaults().withMember("f", 1, 2)
                .withUdp(List.of("127.0.0.1:4000", "localhost:4001"), List.of("127.0.0.1:5000", "127.0.0.1:5001"));
        SourceFilter f = new SourceFilter(withSources);
        assertTrue(f.announced(0, "127.0.0.1:5000"));
        assertFalse(f.announced(0, "127.0.0.1:5001"), "another port of the same host");
        assertFalse(f.announced(0, "127.0.0.2:5000"), "another host");
        assertFalse(f.announced(0, "garbage"));
        SourceFilter hostOnly = new SourceFilter(TransportConfig.defaults().withMember("f", 0, 2)
                .withUdp(List.of("127.0.0.1:4000", "localhost:4001")));
        assertTrue(hostOnly.announced(1, "127.0.0.1:33333"), "without sources: the endpoint's host, any port");
        assertFalse(hostOnly.announced(1, "127.0.0.2:4001"));
        assertTrue(new SourceFilter(TransportConfig.defaults().withMember("f", 0, 2)).announced(1, "aeron:ipc"));
    }

    private static int freeUdpPort() throws IOException {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            return s.getLocalPort();
        }
    }
}
