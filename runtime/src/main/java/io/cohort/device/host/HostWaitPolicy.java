package io.cohort.device.host;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * How a host stream's thread, and a caller waiting on a host stream, wait for another thread: spin
 * ({@link Thread#onSpinWait}) for {@code spin}, then {@link Thread#yield} until {@code spin + yielding} have
 * passed, then park, starting at {@code minPark} and backing off to {@code maxPark} (the shape of Agrona's
 * BackoffIdleStrategy, bounded by elapsed time rather than loop counts so that it behaves alike on any CPU).
 *
 * <p>Why: a small collective is a chain of hand-offs between threads (caller to stream, stream to peer
 * stream through a flag, stream back to the caller). A parked thread takes tens of microseconds to be
 * scheduled again (more on a loaded machine), so waits that end within the spin window cost almost
 * nothing, and the window keeps back-to-back collectives hot. Past it the thread parks, so an idle stream
 * holds a core for at most {@code spin + yielding}; parked waiters are woken by whoever makes progress (see
 * {@link HostStream}), and {@code maxPark} bounds the latency of anything that cannot wake them.
 *
 * @param spin    how long to spin before yielding
 * @param yielding how long to yield after spinning, before parking
 * @param minPark the first park
 * @param maxPark the longest park
 */
public record HostWaitPolicy(Duration spin, Duration yielding, Duration minPark, Duration maxPark) {

    public HostWaitPolicy {
        for (Duration d : new Duration[] {spin, yielding, minPark, maxPark}) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("host wait durations must not be negative: " + this);
            }
        }
        if (minPark.isZero() || maxPark.compareTo(minPark) < 0) {
            throw new IllegalArgumentException("host wait needs 0 < min-park <= max-park: " + this);
        }
    }

    /** The defaults of {@code reference.conf} ({@code cohort.host.wait}). */
    public static HostWaitPolicy defaults() {
        return from(ConfigFactory.defaultReference().getConfig("cohort.host.wait"));
    }

    /** Park right away (no spinning): for machines with fewer cores than busy threads. */
    public static HostWaitPolicy parkOnly() {
        return new HostWaitPolicy(Duration.ZERO, Duration.ZERO, Duration.ofNanos(10_000), Duration.ofNanos(500_000));
    }

    /** From {@code cohort.host.wait} ({@code spin}, {@code yield}, {@code min-park}, {@code max-park}). */
    public static HostWaitPolicy from(Config wait) {
        return new HostWaitPolicy(wait.getDuration("spin"), wait.getDuration("yield"), wait.getDuration("min-park"),
                wait.getDuration("max-park"));
    }

    /** The policy in nanoseconds, for the wait loops. */
    Waiter waiter() {
        return new Waiter(spin.toNanos(), spin.toNanos() + yielding.toNanos(), minPark.toNanos(), maxPark.toNanos());
    }

    /**
     * The policy in nanoseconds. Each wait loop calls {@link #idle} with the time its wait began; the phase
     * follows from the time elapsed, so one Waiter serves every loop and thread without per-wait state.
     */
    record Waiter(long spinNanos, long busyNanos, long minParkNanos, long maxParkNanos) {

        /** Waits a little: spins, yields or parks depending on how long ago ({@code since}) the wait began. */
        void idle(long since) {
            long elapsed = System.nanoTime() - since;
            if (elapsed < spinNanos) {
                Thread.onSpinWait();
            } else if (elapsed < busyNanos) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(parkNanos(elapsed));
            }
        }

        /** Whether a wait that began at {@code since} is past spinning and yielding. */
        boolean parking(long since) {
            return System.nanoTime() - since >= busyNanos;
        }

        /** The park for a wait {@code elapsed} old: half the time parked so far (doubling), within the bounds. */
        long parkNanos(long elapsed) {
            return Math.min(maxParkNanos, Math.max(minParkNanos, (elapsed - busyNanos) / 2));
        }
    }
}
