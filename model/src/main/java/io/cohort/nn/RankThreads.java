package io.cohort.nn;

import io.cohort.core.CohortException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;

/**
 * One thread per rank, each pinned to its rank for the group's life (a device context stays current on it,
 * scratch stays warm). {@link #onEveryRank} runs the same work SPMD on all of them and waits; if one rank
 * fails, {@code onFailure} (e.g. {@link TpGroup#abort}) releases the others from their collectives, and the
 * root cause is rethrown naming the rank.
 */
public final class RankThreads implements AutoCloseable {
    private final List<ExecutorService> threads = new ArrayList<>();
    private final Duration timeout;
    private final Runnable onFailure;

    public RankThreads(int ranks, String name, Duration timeout, Runnable onFailure) {
        for (int r = 0; r < ranks; r++) {
            String threadName = name + "-rank-" + r;
            threads.add(Executors.newSingleThreadExecutor(task -> {
                Thread t = new Thread(task, threadName);
                t.setDaemon(true);
                return t;
            }));
        }
        this.timeout = timeout;
        this.onFailure = onFailure;
    }

    public int ranks() {
        return threads.size();
    }

    /** Runs {@code work.apply(rank)} on every rank's thread; returns the results in rank order. */
    public <T> List<T> onEveryRank(IntFunction<T> work) {
        return onEveryRank(work, timeout);
    }

    /** Like {@link #onEveryRank(IntFunction)} with its own time limit (loading takes longer than a step). */
    public <T> List<T> onEveryRank(IntFunction<T> work, Duration timeout) {
        List<CompletableFuture<T>> futures = new ArrayList<>(threads.size());
        for (int r = 0; r < threads.size(); r++) {
            int rank = r;
            CompletableFuture<T> f = CompletableFuture.supplyAsync(() -> work.apply(rank), threads.get(r));
            // the first failure releases the ranks still waiting in a collective at once, whatever their order
            f.whenComplete((v, e) -> {
                if (e != null) {
                    onFailure.run();
                }
            });
            futures.add(f);
        }
        List<T> results = new ArrayList<>(threads.size());
        long deadline = System.nanoTime() + timeout.toNanos();
        CohortException failure = null;
        for (int r = 0; r < futures.size(); r++) {
            try {
                results.add(futures.get(r).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                failure = moreInformative(failure, new CohortException("rank " + r + " failed: " + cause.getMessage(), cause));
                results.add(null);
            } catch (TimeoutException e) {
                onFailure.run();
                futures.get(r).cancel(true);
                failure = moreInformative(failure, new CohortException("rank " + r + " did not finish within " + timeout));
                results.add(null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                onFailure.run();
                throw new CohortException("interrupted while waiting for rank " + r, e);
            }
        }
        if (failure != null) {
            throw failure;
        }
        return results;
    }

    /** A rank released by another's failure reports "abandoned"; prefer the rank that failed first. */
    private static CohortException moreInformative(CohortException current, CohortException next) {
        if (current == null) {
            return next;
        }
        return current.getMessage().contains("abandoned") && !next.getMessage().contains("abandoned") ? next : current;
    }

    @Override
    public void close() {
        threads.forEach(ExecutorService::shutdownNow);
    }
}
