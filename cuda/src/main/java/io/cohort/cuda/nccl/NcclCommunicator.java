package io.cohort.cuda.nccl;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank's {@code ncclComm_t}. Created in sets by {@link NcclCommunicators}; {@link #close} destroys it, and
 * {@link #abort} tears it down without waiting for peers (what to do once it has failed). Not a lock: NCCL wants
 * one thread at a time on a communicator, which the backend guarantees; the async-error query alone may run
 * from the watchdog thread at the same time, as NCCL allows.
 */
public final class NcclCommunicator implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(NcclCommunicator.class);

    private final NcclApi api;
    private final long handle;
    private final int rank;
    private final int ranks;
    private final int cudaDevice;
    private final String label;
    private final Arena arena = Arena.ofShared();
    /** Preallocated out-parameter of ncclCommGetAsyncError, so polling allocates nothing. */
    private final MemorySegment asyncErrorOut = arena.allocate(JAVA_INT);
    private final Object asyncErrorLock = new Object();
    private volatile boolean released;

    private NcclCommunicator(NcclApi api, long handle, int rank, int ranks, int cudaDevice) {
        this.api = api;
        this.handle = handle;
        this.rank = rank;
        this.ranks = ranks;
        this.cudaDevice = cudaDevice;
        this.label = "rank " + rank + " of " + ranks + " (cuda:" + cudaDevice + ")";
    }

    /** Wraps a fresh handle, reading rank, size and device back from NCCL and checking them; the caller aborts it on failure. */
    static NcclCommunicator adopt(NcclApi api, long handle, int expectedRank, int expectedRanks) {
        int rank, ranks, device;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            NcclException.check(api, api.commUserRank(handle, out), handle, "ncclCommUserRank");
            rank = out.get(JAVA_INT, 0);
            NcclException.check(api, api.commCount(handle, out), handle, "ncclCommCount");
            ranks = out.get(JAVA_INT, 0);
            NcclException.check(api, api.commCuDevice(handle, out), handle, "ncclCommCuDevice");
            device = out.get(JAVA_INT, 0);
        }
        if (rank != expectedRank || ranks != expectedRanks) {
            throw new NcclException("NCCL made a communicator for rank " + rank + " of " + ranks
                    + " where rank " + expectedRank + " of " + expectedRanks + " was asked for", NcclResult.INTERNAL_ERROR.code());
        }
        return new NcclCommunicator(api, handle, rank, ranks, device);
    }

    /** The ncclComm_t value. */
    public long handle() {
        return handle;
    }

    public int rank() {
        return rank;
    }

    public int ranks() {
        return ranks;
    }

    /** CUDA ordinal NCCL runs this rank on (ncclCommCuDevice). */
    public int cudaDevice() {
        return cudaDevice;
    }

    /** "rank 1 of 2 (cuda:1)", for messages. */
    public String label() {
        return label;
    }

    public boolean isReleased() {
        return released;
    }

    /**
     * The communicator's asynchronous error code (ncclCommGetAsyncError): 0 while healthy, ncclInProgress while
     * a non-blocking operation is under way, anything else once it failed (e.g. a peer died: ncclRemoteError).
     */
    public int asyncError() {
        synchronized (asyncErrorLock) {
            if (released) {
                return 0;
            }
            int rc = api.commGetAsyncError(handle, asyncErrorOut);
            NcclException.check(api, rc, handle, "ncclCommGetAsyncError on " + label);
            return asyncErrorOut.get(JAVA_INT, 0);
        }
    }

    /** Throws the communicator's asynchronous error, if it has one. */
    public void checkAsyncError() {
        int code = asyncError();
        if (code != 0 && code != NcclResult.IN_PROGRESS.code()) {
            throw NcclException.of(api, code, handle, "NCCL communicator " + label);
        }
    }

    /** ncclCommAbort: ends the communicator at once, making its pending kernels give up. Idempotent. */
    public void abort() {
        if (release()) {
            int rc = api.commAbort(handle);
            if (rc != 0) {
                LOG.warn("ncclCommAbort on {} returned {}", label, NcclResult.nameOf(rc));
            }
        }
    }

    /** ncclCommDestroy: waits for the communicator's work, then frees it. Idempotent. */
    @Override
    public void close() {
        if (release()) {
            NcclException.check(api, api.commDestroy(handle), 0, "ncclCommDestroy on " + label);
        }
    }

    private boolean release() {
        synchronized (asyncErrorLock) {
            if (released) {
                return false;
            }
            released = true;
        }
        arena.close();
        return true;
    }

    @Override
    public String toString() {
        return "NcclCommunicator[" + label + "]";
    }
}
