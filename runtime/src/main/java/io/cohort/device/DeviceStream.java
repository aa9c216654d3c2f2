package io.cohort.device;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;

/**
 * An in-order queue of work on one device. Every method enqueues and returns at once; failures of
 * enqueued work surface at {@link #synchronize()} (or a later enqueue) as a {@link DeviceException}.
 * Buffers may belong to peers the device can access ({@link Device#canReach}) or be host-accessible
 * staging. Offsets and lengths are in bytes; element counts where a dtype is given.
 *
 * <p>The hot path of a collective calls these with (buffer, offset) pairs so that it allocates nothing.
 */
public interface DeviceStream extends AutoCloseable {

    Device device();

    /** Copies {@code bytes} from src+srcOffset to dst+dstOffset (local, peer or staging memory). */
    void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes);

    /** Copies host memory into a device buffer. {@code src} must stay valid until the copy completes. */
    void copyFromHost(MemorySegment src, DeviceBuffer dst, long dstOffset);

    /** Copies a device buffer into host memory. {@code dst} must stay valid until the copy completes. */
    void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst);

    /** dst[i] = a[i] op b[i] for {@code count} elements (AVG combines as SUM). dst may alias a or b. */
    void reduce(DType type, ReduceOp op, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                DeviceBuffer dst, long dstOffset, long count);

    /** buf[i] *= factor for {@code count} elements (finishes AVG). */
    void scale(DType type, DeviceBuffer buf, long offset, long count, double factor);

    /** Fills {@code bytes} with zero. */
    void zero(DeviceBuffer buf, long offset, long bytes);

    /**
     * After all work enqueued so far, stores {@code value} into the 64-bit word at flags+offset with release
     * semantics. Flags live in {@link Device#allocatePinnedHost} memory (or memory every party can reach).
     * With {@link #waitValue} this orders work across devices by sequence number, so ranks may enqueue
     * their steps independently, in any order (CUDA: cuStreamWriteValue64).
     */
    void writeValue(DeviceBuffer flags, long offset, long value);

    /**
     * Makes work enqueued after this call wait until the 64-bit word at flags+offset is at least
     * {@code atLeast} (CUDA: cuStreamWaitValue64 with GEQ).
     */
    void waitValue(DeviceBuffer flags, long offset, long atLeast);

    /**
     * Runs {@code callback} on the stream's own thread once all work enqueued before it has finished (or been
     * skipped after a failure), so whoever completes the work wakes its waiter and nobody polls for it. Returns
     * false, enqueueing nothing, where the stream cannot (CUDA keeps this default: a poller watches its events).
     * The callback must be short and must not throw; it runs ahead of the work enqueued after it.
     */
    default boolean enqueueCallback(Runnable callback) {
        return false;
    }

    /** Whether {@link #enqueueCallback} runs callbacks here (host streams), without enqueueing one. */
    default boolean runsCallbacks() {
        return false;
    }

    /** Records {@code event} after all work enqueued so far. */
    void record(DeviceEvent event);

    /** Makes work enqueued after this call wait for {@code event}'s last record (may be another device's). */
    void waitFor(DeviceEvent event);

    /** Blocks until all enqueued work has finished; rethrows the first failure of enqueued work. */
    void synchronize();

    /**
     * The failure that stopped this stream's work, or null: lets a completion watcher tell "the event after
     * the work completed" from "the work ran" without blocking. Streams whose events report failures
     * themselves (CUDA: sticky errors at event synchronize) may keep this default.
     */
    default DeviceException failure() {
        return null;
    }

    @Override
    void close();
}
