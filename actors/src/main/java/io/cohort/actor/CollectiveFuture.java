package io.cohort.actor;

import io.cohort.core.IdlePolicy;
import io.cohort.group.CollectiveResult;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The stage of one collective. A caller that blocks on it ({@link #join}, {@link #get}) first waits busily
 * for a short while ({@code cohort.idle.caller}): a small collective completes within microseconds, sooner
 * than a parked thread is scheduled again. Past that it parks as any CompletableFuture does, woken by the
 * completion.
 */
final class CollectiveFuture extends CompletableFuture<CollectiveResult> {

    private final IdlePolicy idle;

    CollectiveFuture(IdlePolicy idle) {
        this.idle = idle;
    }

    private void busyWait() {
        for (int round = 0; !isDone() && idle.idle(round); round++) {
            // spin, then yield: the completion is published by the poller's volatile write
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
