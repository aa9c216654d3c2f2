package io.cohort.actor;

/** What the {@link CompletionPoller} polls: a group's collectives in flight. */
interface Pollable {

    /** Reports what completed (and what passed its deadline at {@code nowNanos}); true if anything was reported. */
    boolean poll(long nowNanos);

    /** Whether anything is still pending: the poller stays busy while something is. */
    boolean hasPending();
}
