package io.cohort.actor;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.core.IdlePolicy;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread of a Cohort that completes every group's collectives ({@link GroupSequencer}) and watches
 * their deadlines. While anything is pending it polls without sleeping ({@code cohort.idle.poller}: spin, then
 * yield, which hands the core to the device threads on a small machine): nothing would wake a sleeping
 * poller when a device finishes. With nothing pending it parks until the next collective's {@link #wake};
 * likewise while every pending collective has a caller blocked on it, which polls its group itself and
 * wakes the poller when it stops.
 *
 * <p><b>Linger.</b> Work whose completion nobody announces (CUDA: no stream callbacks) keeps the poller awake
 * for {@code cohort.idle.poller.linger} after it was last seen, without polling: the next call then finds it
 * awake and needs no unpark, which on these hosts costs the caller a futex wake and the poller a scheduling
 * round per collective (issue 13: a blocked caller finishes its own collective, so a poller woken for it
 * only competes with it for the driver). Likewise, for {@code cohort.idle.poller.grace} after such a collective
 * started, the poller leaves it to its caller, who is likely to join it and finish it itself; past that (nobody
 * joined), the poller finishes it. The grace is at most the linger, so a poller that leaves a collective alone
 * is never asleep.
 * One thread for all groups rather than one each: on a machine with few cores the streams need the CPU more.
 */
public final class CompletionPoller implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CompletionPoller.class);
    /** Idle: woken by wake(); the bound is a safety net only (nothing is pending, nobody waits). */
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final IdlePolicy idle;
    private final long lingerNanos;
    private final long graceNanos;
    private final Thread thread;
    /** Copied on write (groups come and go rarely) so that a round walks an array, allocating nothing. */
    private volatile Pollable[] pollables = new Pollable[0];
    private volatile boolean sleeping;
    private volatile boolean closed;

    public CompletionPoller(String name) {
        this(name, IdlePolicy.defaults("poller"), Timing.of(ConfigFactory.empty()));
    }

    /**
     * {@code cohort.idle.poller.linger} and {@code grace}.
     *
     * @param linger how long the poller stays awake after unannounced work was last seen (0: it parks at once)
     * @param grace  how long after such a collective started the poller leaves it to its caller (at most linger)
     */
    public record Timing(Duration linger, Duration grace) {
        public Timing {
            if (linger.isNegative() || grace.isNegative()) {
                throw new IllegalArgumentException("cohort.idle.poller.linger and grace must be >= 0, got "
                        + linger + " and " + grace);
            }
            if (grace.compareTo(linger) > 0) {
                throw new IllegalArgumentException("cohort.idle.poller.grace (" + grace + ") must not exceed "
                        + "linger (" + linger + "): a poller leaving a collective to its caller must stay awake");
            }
        }

        /** From {@code idle.poller} of a {@code cohort} section, each with the reference's default. */
        public static Timing of(Config cohort) {
            Config ref = ConfigFactory.defaultReference().getConfig("cohort");
            Config c = cohort.withFallback(ref);
            return new Timing(c.getDuration("idle.poller.linger"), c.getDuration("idle.poller.grace"));
        }
    }

    public CompletionPoller(String name, IdlePolicy idle, Timing timing) {
        if (idle.yields() != -1) {
            throw new IllegalArgumentException("cohort.idle.poller.yields must be -1: nothing wakes a poller that "
                    + "sleeps while collectives are pending");
        }
        this.idle = idle;
        this.lingerNanos = timing.linger().toNanos();
        this.graceNanos = timing.grace().toNanos();
        this.thread = Thread.ofPlatform().daemon().name(name).start(this::run);
    }

    /** How long after an unannounced collective started the poller leaves it to its caller (nanoseconds). */
    long graceNanos() {
        return graceNanos;
    }

    /** Whether the poller is parked now (a {@link #wake} would unpark it); for tests. */
    boolean sleeping() {
        return sleeping;
    }

    /** The poller's thread (for tests that count its allocations). */
    public Thread thread() {
        return thread;
    }

    synchronized void register(Pollable p) {
        Pollable[] next = Arrays.copyOf(pollables, pollables.length + 1);
        next[pollables.length] = p;
        pollables = next;
    }

    synchronized void unregister(Pollable p) {
        pollables = Arrays.stream(pollables).filter(x -> x != p).toArray(Pollable[]::new);
    }

    /** Something new to poll: wakes the poller if it sleeps (a volatile read otherwise). */
    void wake() {
        if (sleeping) {
            LockSupport.unpark(thread);
        }
    }

    private boolean anyPending() {
        for (Pollable p : pollables) {
            if (p.needsPoller()) {
                return true;
            }
        }
        return false;
    }

    private boolean anyLingering() {
        for (Pollable p : pollables) {
            if (p.keepsPollerAwake()) {
                return true;
            }
        }
        return false;
    }

    private void run() {
        int round = 0;
        int lingerRound = 0;
        long lingerUntil = System.nanoTime();
        while (!closed) {
            long now = System.nanoTime();
            if (lingerNanos > 0 && !anyPending()) {
                // nothing for the poller to do (a caller finishes its own, or nothing is pending): near recent
                // unannounced work, wait busily without touching the groups, so that the next call needs no wake
                if (anyLingering()) {
                    lingerUntil = now + lingerNanos;
                }
                if (now - lingerUntil < 0) {
                    if (!idle.idle(lingerRound++) || lingerRound < 0) {
                        lingerRound = idle.spins();
                    }
                    continue;
                }
            }
            lingerRound = 0;
            boolean progress = false;
            boolean pending = false;
            for (Pollable p : pollables) {
                try {
                    progress |= p.poll(now);
                    pending |= p.needsPoller();
                } catch (RuntimeException | Error e) {
                    LOG.error("completion poller: polling {} failed", p, e);
                }
            }
            if (progress) {
                round = 0;
            } else if (pending) {
                idle.idle(round++); // never false: yields = -1
                if (round < 0) {
                    round = idle.spins(); // wrapped after 2^31 rounds: keep yielding
                }
            } else {
                round = 0;
                sleeping = true;
                if (!anyPending() && !closed) { // rechecked after flagging: a wake() before it is not missed
                    LockSupport.parkNanos(this, IDLE_PARK_NANOS);
                }
                sleeping = false;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        try {
            thread.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
