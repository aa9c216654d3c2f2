package io.cohort.actor;

import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceStream;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * The completions one DeviceActor waits for: the event recorded after each collective, in stream order. The
 * Cohort's {@link CompletionPoller} thread polls them, so the actor never blocks on its device and enqueues
 * the next collective at once; each completion (or failure) goes to the listener on the poller's thread. A
 * reset abandons what is watched: work on a stuck stream is never waited for again.
 */
final class CompletionWatcher implements AutoCloseable {

    /** One collective's completion to watch; {@code generation} ties it to the stream it was recorded on. */
    record Pending(long collectiveId, int rank, long enqueuedNanos, DeviceEvent event, DeviceStream stream,
                   int generation) {
    }

    /** What the watcher reports, on the poller's thread: done (failure null) or failed; never abandoned work. */
    interface Listener {
        void completed(Pending pending, Throwable failure);
    }

    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final CompletionPoller poller;
    private final Listener listener;
    private volatile int generation;

    CompletionWatcher(CompletionPoller poller, Listener listener) {
        this.poller = poller;
        this.listener = listener;
        poller.register(this);
    }

    void watch(Pending pending) {
        queue.add(pending);
        poller.wake();
    }

    /** Stops watching everything recorded before; later work carries {@code newGeneration}. */
    void abandon(int newGeneration, Consumer<DeviceEvent> onAbandoned) {
        generation = newGeneration;
        Pending p;
        while ((p = queue.poll()) != null) {
            onAbandoned.accept(p.event());
        }
    }

    boolean hasPending() {
        return !queue.isEmpty();
    }

    /** Reports what completed, in order, up to the first that has not; true if anything was reported. */
    boolean poll() {
        boolean progress = false;
        Pending p;
        while ((p = queue.peek()) != null) {
            if (p.generation() != generation) {
                queue.remove(p); // abandoned by a reset since
                continue;
            }
            Throwable failure = null;
            try {
                if (!p.event().isComplete()) {
                    return progress;
                }
                p.event().synchronize(); // returns at once; CUDA rethrows a failure of the recorded work here
                DeviceException f = p.stream().failure(); // host streams keep failures on the stream
                if (f != null) {
                    throw f;
                }
            } catch (RuntimeException e) {
                failure = e;
            }
            queue.remove(p);
            if (p.generation() == generation) {
                listener.completed(p, failure);
            }
            progress = true;
        }
        return progress;
    }

    @Override
    public void close() {
        poller.unregister(this);
    }
}
