package io.cohort.backend;

import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceStream;

/**
 * Carries out collectives for one group. Each rank enqueues its own part on its own stream
 * ({@link #enqueue}), from its own thread (its DeviceActor) or all from one; the parts meet on the devices,
 * ordered by {@code seq}, the group's collective sequence number (1, 2, 3, ... the same on every rank for
 * the same call). enqueue returns once the work is enqueued: completion is stream-ordered.
 *
 * <p>Validation of buffer sizes happens before anything is enqueued; errors are
 * {@link io.cohort.core.CohortException}s naming the rank and the problem.
 */
public interface CollectiveBackend extends AutoCloseable {

    BackendKind kind();

    /** Ranks in the group. */
    int ranks();

    /**
     * Enqueues rank {@code rank}'s part of collective number {@code seq} on that rank's stream. As in NCCL,
     * {@code send} may be null on a non-root rank of BROADCAST and {@code recv} on a non-root rank of REDUCE
     * ({@link io.cohort.core.Collective#usesSend}, {@link io.cohort.core.Collective#usesRecv}).
     */
    void enqueue(int rank, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv);

    /**
     * Enqueues every rank's part of collective {@code seq} from one thread ({@code send[r]}/{@code recv[r]} are
     * rank r's buffers). Backends whose ranks must meet while enqueueing (buffer exchange, NCCL groups)
     * override this so that one thread can drive all ranks; the default enqueues rank by rank. A rank whose
     * part cannot be enqueued is reported as a {@link RankEnqueueException} naming it.
     */
    default void enqueueAll(long seq, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv) {
        for (int r = 0; r < ranks(); r++) {
            try {
                enqueue(r, seq, call, send[r], recv[r]);
            } catch (RankEnqueueException e) {
                throw e;
            } catch (RuntimeException e) {
                throw new RankEnqueueException(r, e);
            }
        }
    }

    /**
     * {@link #enqueueAll}, then {@code done[r]} recorded on {@code streams[r]} (rank r's stream) behind rank r's part:
     * what a caller waiting for the collective watches. A backend that enqueues ranks on threads of their own
     * records each rank's event on that rank's thread. A rank whose part or record fails is reported as a
     * {@link RankEnqueueException} naming it.
     */
    default void enqueueAllAndRecord(long seq, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv,
                                     DeviceStream[] streams, DeviceEvent[] done) {
        enqueueAll(seq, call, send, recv);
        for (int r = 0; r < streams.length; r++) {
            try {
                streams[r].record(done[r]);
            } catch (RuntimeException e) {
                throw new RankEnqueueException(r, e);
            }
        }
    }

    /** A line for logs and {@code cohort topo}: what this backend does for the call (algorithm, path). */
    String describe(CollectiveCall call);

    @Override
    void close();
}
