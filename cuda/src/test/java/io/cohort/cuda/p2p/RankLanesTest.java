package io.cohort.cuda.p2p;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.RankEnqueueException;
import io.cohort.core.CohortException;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.Test;

/** The launch lanes of the cuda-p2p backend, without a GPU: every rank's part once per call, errors, deadlines. */
class RankLanesTest {

    @Test
    void everyRankRunsOncePerCallRankZeroOnTheCallersThread() {
        int n = 4;
        AtomicLongArray runs = new AtomicLongArray(n);
        AtomicReferenceArray<Thread> threads = new AtomicReferenceArray<>(n);
        try (RankLanes lanes = new RankLanes(n, r -> {
            runs.incrementAndGet(r);
            threads.set(r, Thread.currentThread());
        }, Duration.ofMillis(1), "test")) {
            for (int i = 1; i <= 5000; i++) {
                lanes.runAll(System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
                for (int r = 0; r < n; r++) {
                    assertEquals(i, runs.get(r), "rank " + r + " after call " + i);   // returned only once all ran
                }
            }
        }
        assertSame(Thread.currentThread(), threads.get(0));
        for (int r = 1; r < n; r++) {
            assertNotSame(Thread.currentThread(), threads.get(r));
            assertTrue(threads.get(r).getName().endsWith("-rank-" + r), threads.get(r).getName());
        }
    }

    @Test
    void aRankThatThrowsIsNamedAndTheLanesWorkAfterwards() {
        boolean[] fail = {true};
        AtomicLongArray runs = new AtomicLongArray(3);
        try (RankLanes lanes = new RankLanes(3, r -> {
            runs.incrementAndGet(r);
            if (r == 2 && fail[0]) {
                throw new IllegalStateException("launch refused");
            }
        }, Duration.ofMillis(1), "test")) {
            RankEnqueueException e = assertThrows(RankEnqueueException.class,
                    () -> lanes.runAll(System.nanoTime() + TimeUnit.SECONDS.toNanos(10)));
            assertEquals(2, e.rank());
            assertEquals("launch refused", e.getMessage());
            fail[0] = false;   // published to the lane by the next post
            lanes.runAll(System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
            assertEquals(2, runs.get(2));
            assertEquals(2, runs.get(0));
        }
    }

    @Test
    void aLaneStuckPastTheDeadlineIsAnErrorNamingItsRankNotAHang() throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        try (RankLanes lanes = new RankLanes(2, r -> {
            if (r == 1) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }, Duration.ofMillis(1), "test")) {
            long t0 = System.nanoTime();
            CohortException e = assertThrows(CohortException.class,
                    () -> lanes.runAll(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200)));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(e.getMessage().startsWith("rank 1's enqueue did not return"), e.getMessage());
            assertTrue(ms < 5_000, ms + " ms");
            release.countDown();
        }
    }

    @Test
    void aParkedLaneIsWokenByTheNextCall() throws InterruptedException {
        AtomicLongArray runs = new AtomicLongArray(2);
        try (RankLanes lanes = new RankLanes(2, runs::incrementAndGet, Duration.ofMillis(1), "test")) {
            lanes.runAll(System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!lanes.sleeping(1) && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertTrue(lanes.sleeping(1), "the lane parks once its linger is over");
            long t0 = System.nanoTime();
            lanes.runAll(System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
            assertEquals(2, runs.get(1));
            // woken by the post, not by the 100 ms safety net
            assertTrue(System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(90), "woken late");
        }
    }

    @Test
    void aCallAllocatesNothingOnTheCallersThread() {
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (RankLanes lanes = new RankLanes(3, r -> { }, Duration.ofMillis(5), "test")) {
            for (int i = 0; i < 10_000; i++) {
                lanes.runAll(System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
            }
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 5_000; i++) {
                lanes.runAll(System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
            }
            long bytes = mx.getCurrentThreadAllocatedBytes() - before;
            assertTrue(bytes < 10_000, bytes + " bytes over 5,000 calls");
        }
    }

    @Test
    void lanesAreOnWhereTheHostHasTheCores() {
        P2pConfig auto = P2pConfig.from(ConfigFactory.empty());
        assertEquals(P2pConfig.Lanes.AUTO, auto.launchLanes());
        assertTrue(auto.lanesFor(2, 16));
        assertTrue(!auto.lanesFor(2, 2), "not on the 2-core build machine");
        assertTrue(!auto.lanesFor(1, 64), "one rank needs no lane");
        assertTrue(!auto.lanesFor(8, 16));
        P2pConfig off = P2pConfig.from(ConfigFactory.parseString("cuda.p2p.launch-lanes = off"));
        assertTrue(!off.lanesFor(2, 64));
        P2pConfig on = P2pConfig.from(ConfigFactory.parseString("cuda.p2p.launch-lanes = on"));
        assertTrue(on.lanesFor(2, 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> P2pConfig.from(ConfigFactory.parseString("cuda.p2p.launch-lanes = sometimes")));
        assertEquals("cohort.cuda.p2p.launch-lanes: unknown value 'sometimes' (expected auto, on or off)", e.getMessage());
    }
}
