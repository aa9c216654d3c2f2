package io.cohort.actor;

import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceStream;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Watches the events a DeviceActor records after each collective, in order, on its own thread, so the actor
 * never blocks on the device and can enqueue the next collective at once. Polls with a short spin, then
 * yields, then parks (the latency of small collectives is microseconds). A reset abandons what is watched:
 * work on a stuck stream is never waited for again.
 */
final class CompletionWatcher implements AutoCloseable {

    /** One collective's completion to watch; {@code generation} ties it to the stream it was recorded on. */
    record Pending(long collectiveId, int rank, long enqueuedNanos, DeviceEvent event, DeviceStream stream,
                   int generation) {
    }

    /** What the watcher reports, on its thread: done (failure null) or failed; never called for abandoned work. */
    interface Listener {
        void completed(Pending pending, Throwable failure);
    }

    private static final long MAX_PARK_NANOS = 50_000;

    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Listener listener;
    private final Thread thread;
    private volatile int generation;
    private volatile boolean closed;

    CompletionWatcher(String deviceName, Listener listener) {
        this.listener = listener;
        this.thread = Thread.ofPlatform().daemon().name("cohort-completion-" + deviceName).start(this::run);
    }

    void watch(Pending pending) {
        queue.add(pending);
    }

    /** Stops watching everything recorded before; later work carries {@code newGeneration}. */
    void abandon(int newGeneration, Consumer<DeviceEvent> onAbandoned) {
        generation = newGeneration;
        Pending p;
        while ((p = queue.poll()) != null) {
            onAbandoned.accept(p.event());
        }
    }

    private void run() {
        while (!closed) {
            Pending p;
            try {
                p = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (p != null) {
                await(p);
            }
        }
    }

    private void await(Pending p) {
        int idle = 0;
        try {
            while (!p.event().isComplete()) {
                if (closed || p.generation() != generation) {
                    return;
                }
                idle++;
                if (idle < 100) {
                    Thread.onSpinWait();
                } else if (idle < 200) {
                    Thread.yield();
                } else {
                    // short parks: a collective's latency includes this wake-up
                    LockSupport.parkNanos(Math.min(MAX_PARK_NANOS, 2_000L * (idle - 199)));
                }
            }
            p.event().synchronize(); // returns at once; CUDA rethrows a failure of the recorded work here
            DeviceException failure = p.stream().failure(); // host streams keep failures on the stream
            if (failure != null) {
                throw failure;
            }
        } catch (Throwable t) {
            if (p.generation() == generation) {
                listener.completed(p, t);
            }
            return;
        }
        if (p.generation() == generation) {
            listener.completed(p, null);
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
