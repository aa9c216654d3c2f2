package io.cohort.actor;

/** What the {@link CompletionPoller} polls: a group's collectives in flight. */
interface Pollable {

    /** Reports what completed (and what passed its deadline at {@code nowNanos}); true if anything was reported. */
    boolean poll(long nowNanos);

    /** Whether anything is still pending. */
    boolean hasPending();

    /**
     * Whether the poller must stay busy for this: something pending that no caller is finishing itself (a
     * caller blocked on its stage polls; the poller need not compete with it for a core).
     */
    default boolean needsPoller() {
        return hasPending();
    }
}
