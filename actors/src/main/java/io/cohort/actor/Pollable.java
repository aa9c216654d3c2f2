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

    /**
     * Whether something is pending whose completion nobody announces (no stream callbacks): the poller then stays
     * awake for its linger after it, so that the next call finds it awake ({@code cohort.idle.poller.linger}).
     */
    default boolean keepsPollerAwake() {
        return false;
    }
}
