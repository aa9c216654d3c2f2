package io.cohort.actor;

import io.cohort.core.IdlePolicy;
import io.cohort.group.CollectiveResult;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The stage of one collective. A caller that blocks on it ({@link #join}, {@link #get}) first waits busily
 * for a short while ({@code cohort.idle.caller}), finishing the group's completed collectives itself (so
 * its own completes without a hand-off to the poller's thread): a small collective completes within
 * microseconds, sooner than a parked thread is scheduled again. Past that it waits on the devices as their
 * own synchronize does (parked until the device's completion wakes it), then finishes its collective; a
 * stage not started yet (its group recovering) parks as any CompletableFuture does, woken by its completion.
 */
final class CollectiveFuture extends CompletableFuture<CollectiveResult> {

    private final IdlePolicy idle;
    private final GroupSequencer group;
    private volatile GroupSequencer.Slot slot;
    private volatile long ticket;

    CollectiveFuture(IdlePolicy idle, GroupSequencer group) {
        this.idle = idle;
        this.group = group;
    }

    /** The collective is registered in {@code s} under {@code t}: a blocked caller may wait on its events. */
    void started(GroupSequencer.Slot s, long t) {
        ticket = t;
        slot = s;
    }

    private void busyWait() {
        if (isDone()) {
            return;
        }
        // while this caller polls or waits on the devices, the poller stays out of the way (one busy thread
        // fewer competing with the stream threads for a core)
        group.helperArrives();
        try {
            for (int round = 0; !isDone(); round++) {
                // poll (an exclusive round) only once its own collective could be finished: watching the events
                // is a read, and leaves the stream threads their cores on a small machine
                GroupSequencer.Slot watched = slot;
                if (watched == null || group.finishable(watched, ticket)) {
                    group.poll(System.nanoTime());
                }
                if (isDone()) {
                    return;
                }
                if (!idle.idle(round)) {
                    GroupSequencer.Slot s = slot;
                    if (s != null) {
                        group.awaitDevices(s, ticket);
                    }
                    return;
                }
            }
        } finally {
            group.helperLeaves();
        }
    }

    @Override
    public CollectiveResult join() {
        busyWait();
        return super.join();
    }

    @Override
    public CollectiveResult get() throws InterruptedException, ExecutionException {
        busyWait();
        return super.get();
    }

    @Override
    public CollectiveResult get(long timeout, TimeUnit unit)
            throws InterruptedException, ExecutionException, TimeoutException {
        busyWait();
        return super.get(timeout, unit);
    }
}
