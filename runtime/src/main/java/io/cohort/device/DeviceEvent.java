package io.cohort.device;

/**
 * A marker in a stream, with CUDA event semantics: {@link DeviceStream#waitFor} waits for the work
 * captured by the most recent {@link DeviceStream#record} of this event at the time waitFor is called.
 */
public interface DeviceEvent extends AutoCloseable {

    /** Whether the work captured by the last record has finished (true if never recorded). */
    boolean isComplete();

    /** Blocks the calling thread until the work captured by the last record has finished. */
    void synchronize();

    /**
     * Like {@link #synchronize()}, but gives up after {@code timeoutNanos} (a {@link DeviceException}) where the
     * device can bound its wait; the default waits as {@link #synchronize()} does (bounded by the device).
     */
    default void synchronize(long timeoutNanos) {
        synchronize();
    }

    @Override
    void close();
}
