package io.cohort.core;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/**
 * How a thread waits for something another thread will do (a completion, a peer's buffers, a result): spin
 * ({@link Thread#onSpinWait}) for the first {@code spins} rounds, then {@link Thread#yield} for {@code yields}
 * rounds ({@code -1}: for ever), then stop being busy: {@link #idle} returns false and the waiter blocks on
 * its waker (whoever publishes or completes unparks it). No timed park: a timed park's wake-up is late by
 * the kernel's timer slack (about 50 us on Linux), which is the whole cost of a small collective.
 *
 * <p>Stateless (the round is the caller's loop counter), so one policy serves every wait of every thread
 * without allocating. Configured under {@code cohort.idle} ({@link #from}).
 *
 * @param spins  rounds spent spinning
 * @param yields rounds spent yielding after spinning; -1 never stops (for a poller that must not sleep while
 *               work is pending)
 */
public record IdlePolicy(int spins, int yields) {

    public IdlePolicy {
        if (spins < 0 || yields < -1) {
            throw new IllegalArgumentException("idle policy needs spins >= 0 and yields >= -1, got " + spins + "/" + yields);
        }
    }

    /** The policy of {@code cohort.idle.<name>} in the reference configuration. */
    public static IdlePolicy defaults(String name) {
        return from(ConfigFactory.defaultReference().getConfig("cohort.idle." + name));
    }

    /** From a section with {@code spins} and {@code yields}. */
    public static IdlePolicy from(Config section) {
        return new IdlePolicy(section.getInt("spins"), section.getInt("yields"));
    }

    /** From {@code cohort.idle.<name>} of a {@code cohort} section, with the reference's default. */
    public static IdlePolicy of(Config cohort, String name) {
        String path = "idle." + name;
        return cohort.hasPath(path) ? from(cohort.getConfig(path)) : defaults(name);
    }

    /**
     * One round of a busy wait: spins or yields for round {@code round} (0, 1, 2, ... of this wait). Returns false,
     * without waiting, once the busy phase is over: the caller then blocks until its waker unparks it.
     */
    public boolean idle(int round) {
        if (round < spins) {
            Thread.onSpinWait();
            return true;
        }
        if (yields < 0 || round - spins < yields) {
            Thread.yield();
            return true;
        }
        return false;
    }

    /** Whether round {@code round} is still busy (spinning or yielding), without waiting. */
    public boolean busy(int round) {
        return round < spins || yields < 0 || round - spins < yields;
    }
}
