package io.cohort.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.CohortException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RankRendezvousTest {
    private static final String WHAT = "capture their decode graphs";

    /** A thread per rank, as the model has (the common pool may have one thread on a small machine). */
    private static CompletableFuture<Void> arrive(RankRendezvous r, int rank) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                r.arrive(rank);
                f.complete(null);
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    private static String failure(CompletableFuture<Void> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertTrue(e.getCause() instanceof CohortException, String.valueOf(e.getCause()));
            return e.getCause().getMessage();
        }
        throw new AssertionError("no failure");
    }

    @Test
    void everyRankPassesOnceAllHaveArrivedAgainAndAgain() throws Exception {
        RankRendezvous r = new RankRendezvous(4, Duration.ofSeconds(10), WHAT);
        for (int round = 0; round < 3; round++) {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int rank = 0; rank < 4; rank++) {
                all.add(arrive(r, rank));
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aRankThatGivesUpFailsTheWaitingOnesAtOnce() throws Exception {
        RankRendezvous r = new RankRendezvous(3, Duration.ofSeconds(60), WHAT);
        CompletableFuture<Void> a = arrive(r, 0), b = arrive(r, 1);
        Thread.sleep(100);
        long t0 = System.nanoTime();
        r.abandon();
        assertEquals("rank 0: another rank failed to " + WHAT, failure(a));
        assertEquals("rank 1: another rank failed to " + WHAT, failure(b));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "failed at once, not at the deadline");
    }

    @Test
    void aMissingRankEndsInTheDeadlineErrorNamingTheWaitingRank() throws Exception {
        RankRendezvous r = new RankRendezvous(2, Duration.ofMillis(200), WHAT);
        assertEquals("rank 1: the other ranks did not " + WHAT + " within 200 ms", failure(arrive(r, 1)));
    }
}
