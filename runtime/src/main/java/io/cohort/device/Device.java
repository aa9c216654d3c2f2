package io.cohort.device;

/**
 * One compute device: its memory, its streams and its events. Implemented by the host device (runtime)
 * and the CUDA device (cuda/). Planners and executors only speak to this interface, so one plan runs on
 * either.
 *
 * <p>Thread rules: allocation and stream creation may happen on any thread; a CUDA device binds its
 * context to the calling thread as needed. Operations on a {@link DeviceStream} are asynchronous: they are
 * enqueued in order and return at once.
 */
public interface Device extends AutoCloseable {

    /** Kind of device. */
    DeviceKind kind();

    /** Index of this device among devices of its kind on this host (CUDA ordinal; host device number). */
    int ordinal();

    /** Human-readable name, e.g. "host:0" or "cuda:1 (NVIDIA H200)". */
    String name();

    /** Total memory in bytes. */
    long totalMemory();

    /** Memory currently free in bytes (drives the pool's default size). */
    long freeMemory();

    /** Allocates {@code bytes} of device memory, 256-byte aligned. Raw: pools carve these. */
    DeviceBuffer allocate(long bytes);

    /** Releases memory from {@link #allocate}. */
    void free(DeviceBuffer buffer);

    /**
     * Allocates pinned host memory that this device and its peers can read and write (staging buffers,
     * synchronization flags). For a host device this is ordinary host memory.
     */
    DeviceBuffer allocatePinnedHost(long bytes);

    /** Creates a new in-order stream of work on this device. */
    DeviceStream createStream();

    /**
     * Tells the device that {@code ranks} ranks use it at once, each with streams of its own whose work may wait
     * for another rank's (several ranks on one device, {@code cuda:0*2}). Call it before those streams are made.
     * A CUDA device then puts each new stream on a hardware queue of its own; the host device needs nothing.
     */
    default void sharedByRanks(int ranks) {
    }

    /** Creates an event for ordering work across streams and devices. */
    DeviceEvent createEvent();

    /**
     * Creates an event that host threads poll for completion often (a collective's end): where the device can
     * make that cheaper than asking it (CUDA: a host word the stream sets behind the record), it does. Recorded
     * outside graph captures only. The default is {@link #createEvent}.
     */
    default DeviceEvent createCompletionEvent() {
        return createEvent();
    }

    /** Whether this device can read and write {@code peer}'s memory directly. */
    boolean canAccessPeer(Device peer);

    /** Enables direct access to {@code peer}'s memory; idempotent. Fails if {@link #canAccessPeer} is false. */
    void enablePeerAccess(Device peer);

    /** Whether memory of {@code buffer} can be read or written by work on this device's streams. */
    default boolean canReach(DeviceBuffer buffer) {
        return buffer.isHostAccessible() || buffer.device() == this || canAccessPeer(buffer.device());
    }

    @Override
    void close();
}
