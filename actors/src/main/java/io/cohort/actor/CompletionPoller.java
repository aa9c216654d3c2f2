package io.cohort.actor;

import io.cohort.core.IdlePolicy;
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
 * One thread for all groups rather than one each: on a machine with few cores the streams need the CPU more.
 */
public final class CompletionPoller implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CompletionPoller.class);
    /** Idle: woken by wake(); the bound is a safety net only (nothing is pending, nobody waits). */
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final IdlePolicy idle;
    private final Thread thread;
    /** Copied on write (groups come and go rarely) so that a round walks an array, allocating nothing. */
    private volatile Pollable[] pollables = new Pollable[0];
    private volatile boolean sleeping;
    private volatile boolean closed;

    public CompletionPoller(String name) {
        this(name, IdlePolicy.defaults("poller"));
    }

    public CompletionPoller(String name, IdlePolicy idle) {
        if (idle.yields() != -1) {
            throw new IllegalArgumentException("cohort.idle.poller.yields must be -1: nothing wakes a poller that "
                    + "sleeps while collectives are pending");
        }
        this.idle = idle;
        this.thread = Thread.ofPlatform().daemon().name(name).start(this::run);
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

    private void run() {
        int round = 0;
        while (!closed) {
            long now = System.nanoTime();
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
