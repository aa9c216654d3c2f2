package io.cohort.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.core.IdlePolicy;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The poller's linger and grace (cohort.idle.poller): awake near unannounced work, asleep otherwise. */
class CompletionPollerTest {

    private static final IdlePolicy SPIN = new IdlePolicy(200, -1);

    /** A group stand-in: pending work that a caller may be finishing itself (no poller needed). */
    private static final class Work implements Pollable {
        volatile boolean pending;
        volatile boolean needsPoller;
        volatile boolean announced; // host streams: completion is announced, no linger
        final AtomicInteger polls = new AtomicInteger();

        @Override
        public boolean poll(long nowNanos) {
            polls.incrementAndGet();
            return false;
        }

        @Override
        public boolean hasPending() {
            return pending;
        }

        @Override
        public boolean needsPoller() {
            return pending && needsPoller;
        }

        @Override
        public boolean keepsPollerAwake() {
            return pending && !announced;
        }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 10 s: " + what);
            }
            Thread.sleep(1);
        }
    }

    @Test
    void staysAwakeWithoutPollingWhileACallerFinishesItsOwnWork() throws InterruptedException {
        try (CompletionPoller poller = new CompletionPoller("t", SPIN,
                new CompletionPoller.Timing(Duration.ofMillis(200), Duration.ZERO))) {
            Work w = new Work();
            poller.register(w);
            w.pending = true; // a caller is blocked on it: it polls, the poller keeps out of the way
            poller.wake();
            Thread.sleep(50);
            int polls = w.polls.get();
            Thread.sleep(50);
            assertFalse(poller.sleeping(), "near unannounced work the poller stays awake");
            assertEquals(polls, w.polls.get(), "and leaves the group to the caller finishing it");
            w.pending = false; // done: the linger runs out, then the poller parks
            await(poller::sleeping, "the poller parks once the linger after the last work ran out");
        }
    }

    @Test
    void pollsWhatNobodyFinishes() throws InterruptedException {
        try (CompletionPoller poller = new CompletionPoller("t", SPIN,
                new CompletionPoller.Timing(Duration.ofMillis(200), Duration.ZERO))) {
            Work w = new Work();
            poller.register(w);
            w.pending = true;
            w.needsPoller = true;
            poller.wake();
            int before = w.polls.get();
            await(() -> w.polls.get() > before + 100, "the poller polls pending work nobody finishes");
            w.pending = false;
        }
    }

    @Test
    void withoutLingerOrForAnnouncedWorkItParksAtOnce() throws InterruptedException {
        try (CompletionPoller poller = new CompletionPoller("t", SPIN,
                new CompletionPoller.Timing(Duration.ZERO, Duration.ZERO))) {
            Work w = new Work();
            poller.register(w);
            w.pending = true;
            poller.wake();
            await(poller::sleeping, "with linger 0 a poller with nothing to do parks");
        }
        try (CompletionPoller poller = new CompletionPoller("t", SPIN,
                new CompletionPoller.Timing(Duration.ofSeconds(60), Duration.ZERO))) {
            Work w = new Work();
            w.announced = true;
            poller.register(w);
            w.pending = true;
            poller.wake();
            await(poller::sleeping, "work whose completion is announced (host streams) needs no linger");
        }
    }

    @Test
    void aWakeDuringTheLingerFindsThePollerAwake() throws InterruptedException {
        try (CompletionPoller poller = new CompletionPoller("t", SPIN,
                new CompletionPoller.Timing(Duration.ofSeconds(60), Duration.ZERO))) {
            Work w = new Work();
            poller.register(w);
            w.pending = true;
            poller.wake();
            Thread.sleep(20);
            w.pending = false; // between two calls: nothing pending, the linger holds
            Thread.sleep(20);
            assertFalse(poller.sleeping(), "a call within the linger needs no unpark");
            w.pending = true;
            w.needsPoller = true;
            int before = w.polls.get();
            poller.wake();
            await(() -> w.polls.get() > before, "and is polled");
            w.pending = false;
        }
    }

    @Test
    void timingComesFromTheConfigurationAndIsChecked() {
        CompletionPoller.Timing ref = CompletionPoller.Timing.of(ConfigFactory.empty());
        assertEquals(Duration.ofMillis(1), ref.linger());
        assertEquals(Duration.ofNanos(20_000), ref.grace());
        CompletionPoller.Timing off = CompletionPoller.Timing.of(
                ConfigFactory.parseString("idle.poller { linger = 0, grace = 0 }"));
        assertEquals(Duration.ZERO, off.linger());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CompletionPoller.Timing.of(ConfigFactory.parseString("idle.poller.linger = 0")));
        assertTrue(e.getMessage().contains("must not exceed linger"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new CompletionPoller.Timing(Duration.ofMillis(-1), Duration.ZERO));
    }
}
