package io.cohort.actor;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The one thread of a Cohort that watches every device's completions ({@link CompletionWatcher}s): it polls
 * while any collective is pending (spin, yield, then parks of at most 50 us: small collectives take
 * microseconds) and sleeps while none is, woken by the next {@link CompletionWatcher#watch}. One thread for
 * all devices rather than one each: on a machine with few cores the device streams need the CPU more.
 */
public final class CompletionPoller implements AutoCloseable {

    private static final long MAX_PARK_NANOS = 50_000;
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final CopyOnWriteArrayList<CompletionWatcher> watchers = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean closed;

    public CompletionPoller(String name) {
        this.thread = Thread.ofPlatform().daemon().name(name).start(this::run);
    }

    void register(CompletionWatcher watcher) {
        watchers.add(watcher);
    }

    void unregister(CompletionWatcher watcher) {
        watchers.remove(watcher);
    }

    /** Something new to watch: poll now. */
    void wake() {
        LockSupport.unpark(thread);
    }

    private void run() {
        int idle = 0;
        while (!closed) {
            boolean progress = false;
            boolean pending = false;
            for (CompletionWatcher w : watchers) {
                progress |= w.poll();
                pending |= w.hasPending();
            }
            if (progress) {
                idle = 0;
            } else if (!pending) {
                idle = 0;
                LockSupport.parkNanos(this, IDLE_PARK_NANOS); // until wake(); the bound is only a safety net
            } else if (++idle < 100) {
                Thread.onSpinWait();
            } else if (idle < 200) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(this, Math.min(MAX_PARK_NANOS, 2_000L * (idle - 199)));
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
