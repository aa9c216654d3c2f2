package io.cohort.actor;

import io.cohort.metrics.CollectiveEvent;

/** A collective between Coordinator.Submit and the last rank's completion. */
final class InFlight {
    final long id;
    final GroupState group;
    final Coordinator.Submit submit;
    final long seq;
    final String algorithm;
    final boolean[] done;
    final CollectiveEvent event;
    final long deadlineNanos;
    int remaining;
    long lastEnqueuedNanos;

    InFlight(long id, GroupState group, Coordinator.Submit submit, long seq, String algorithm, CollectiveEvent event,
             long deadlineNanos) {
        this.id = id;
        this.group = group;
        this.submit = submit;
        this.seq = seq;
        this.algorithm = algorithm;
        this.event = event;
        this.deadlineNanos = deadlineNanos;
        this.done = new boolean[group.ranks.length];
        this.remaining = group.ranks.length;
    }
}
