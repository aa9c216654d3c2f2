package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.CohortException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The rank threads' hand-off: results in rank order, one thread per rank, failures and timeouts named. */
class RankThreadsTest {

    @Test
    void everyStepRunsOnEveryRanksOwnThreadAndReturnsInRankOrder() {
        Set<String> names = ConcurrentHashMap.newKeySet();
        try (RankThreads threads = new RankThreads(3, "t", Duration.ofSeconds(10), () -> { })) {
            for (int step = 0; step < 20_000; step++) {   // back to back, as decode steps are
                int s = step;
                List<Integer> out = threads.onEveryRank(r -> {
                    names.add(Thread.currentThread().getName() + "/" + r);
                    return s * 10 + r;
                });
                assertEquals(List.of(s * 10, s * 10 + 1, s * 10 + 2), out);
            }
        }
        assertEquals(Set.of("t-rank-0/0", "t-rank-1/1", "t-rank-2/2"), names);
    }

    @Test
    void aFailingRankIsNamedAndReleasesTheOthersAtOnce() throws Exception {
        CountDownLatch released = new CountDownLatch(1);
        AtomicInteger failures = new AtomicInteger();
        try (RankThreads threads = new RankThreads(2, "t", Duration.ofSeconds(30), () -> {
            failures.incrementAndGet();
            released.countDown();
        })) {
            long t0 = System.nanoTime();
            CohortException e = assertThrows(CohortException.class, () -> threads.onEveryRank(r -> {
                if (r == 1) {
                    throw new IllegalStateException("boom");
                }
                try {   // rank 0 "waits in a collective" until the failure releases it
                    assertTrue(released.await(10, TimeUnit.SECONDS));
                } catch (InterruptedException ex) {
                    throw new RuntimeException(ex);
                }
                return 0;
            }));
            assertTrue(e.getMessage().startsWith("rank 1 failed: boom"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5));
            assertEquals(List.of(7, 8), threads.onEveryRank(r -> 7 + r)); // the threads still work
        }
    }

    @Test
    void aRankThatDoesNotFinishIsNamedAtTheDeadline() {
        AtomicInteger failures = new AtomicInteger();
        try (RankThreads threads = new RankThreads(2, "t", Duration.ofMillis(300), failures::incrementAndGet)) {
            CohortException e = assertThrows(CohortException.class, () -> threads.onEveryRank(r -> {
                if (r == 1) {
                    try {
                        Thread.sleep(60_000);
                    } catch (InterruptedException ex) {
                        return -1; // the timeout interrupts it
                    }
                }
                return r;
            }));
            assertEquals("rank 1 did not finish within PT0.3S", e.getMessage());
            assertTrue(failures.get() >= 1);
            assertEquals(List.of(0, 1), threads.onEveryRank(r -> r)); // the interrupted rank takes the next step
        }
    }

    @Test
    void closedThreadsRefuseWork() {
        RankThreads threads = new RankThreads(1, "t", Duration.ofSeconds(1), () -> { });
        threads.close();
        assertThrows(CohortException.class, () -> threads.onEveryRank(r -> r));
    }
}
