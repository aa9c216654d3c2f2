package io.cohort.actor;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes resources off the caller's thread: closing a stream whose work waits for a peer that failed may
 * take long (or never end), and an actor must not block on it. {@link #awaitIdle} lets shutdown wait,
 * bounded, for the closes in flight.
 */
final class Reaper {
    private static final Logger log = LoggerFactory.getLogger(Reaper.class);
    private static final ConcurrentHashMap.KeySetView<Thread, Boolean> running = ConcurrentHashMap.newKeySet();

    private Reaper() {
    }

    static void closeQuietly(String what, Runnable close) {
        Thread t = Thread.ofPlatform().daemon().name("cohort-reaper").unstarted(() -> {
            try {
                close.run();
            } catch (RuntimeException e) {
                log.warn("closing {} failed: {}", what, e.toString());
            } finally {
                running.remove(Thread.currentThread());
            }
        });
        running.add(t);
        t.start();
    }

    /** Closes {@code c} on this thread, logging rather than throwing a failure (one of several closes in a row). */
    static void closeLogged(String what, AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            log.warn("closing {} failed: {}", what, e.toString());
        }
    }

    /** Waits up to {@code millis} for every close in flight; true if all finished. */
    static boolean awaitIdle(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (Thread t : running) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return running.isEmpty();
            }
            try {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return running.isEmpty();
    }
}
