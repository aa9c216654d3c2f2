package io.cohort.cuda.nccl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import io.cohort.cuda.NativeCudaStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Creates the communicators of a group. Set-up blocks until every rank has joined, so it runs on a helper
 * thread and is given up after a timeout (a rank that never comes otherwise hangs the caller forever).
 */
public final class NcclCommunicators {

    private NcclCommunicators() {
    }

    /**
     * Every rank of the group in this process, one GPU each (ncclCommInitAll): rank i runs on
     * {@code cudaDevices[i]}. NCCL makes the unique id and selects each device itself.
     */
    public static List<NcclCommunicator> initAll(NcclApi api, int[] cudaDevices, Duration timeout) {
        int n = cudaDevices.length;
        String what = "ncclCommInitAll over cuda devices " + Arrays.toString(cudaDevices);
        return withTimeout(what, timeout, () -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment comms = arena.allocate(ADDRESS, n);
                MemorySegment devs = arena.allocateFrom(JAVA_INT, cudaDevices);
                NcclException.check(api, api.commInitAll(comms, n, devs), 0, what);
                return adoptAll(api, comms, rangeOf(n), n);
            }
        });
    }

    /**
     * This process's ranks {@code ranks[i]} of an {@code nranks}-rank group, all with the same {@code id}
     * (ncclCommInitRank, inside one group when there are several, with each rank's CUDA context current as
     * it is created). The other ranks are set up by other processes with the same id.
     */
    public static List<NcclCommunicator> initRanks(NcclApi api, NcclUniqueId id, int nranks, int[] ranks,
                                                   List<? extends NativeCudaStream> contexts, Duration timeout) {
        if (ranks.length != contexts.size()) {
            throw new IllegalArgumentException(ranks.length + " ranks but " + contexts.size() + " streams");
        }
        String what = "ncclCommInitRank for ranks " + Arrays.toString(ranks) + " of " + nranks;
        return withTimeout(what, timeout, () -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment comms = arena.allocate(ADDRESS, ranks.length);
                MemorySegment idSeg = arena.allocate(NcclLibrary.UNIQUE_ID);
                id.writeTo(idSeg);
                boolean grouped = ranks.length > 1;
                if (grouped) {
                    NcclException.check(api, api.groupStart(), 0, "ncclGroupStart");
                }
                int rc = 0;
                for (int i = 0; i < ranks.length && rc == 0; i++) {
                    contexts.get(i).makeContextCurrent();
                    rc = api.commInitRank(comms.asSlice(i * ADDRESS.byteSize()), nranks, idSeg, ranks[i]);
                }
                if (grouped) {
                    int end = api.groupEnd();
                    rc = rc != 0 ? rc : end;
                }
                if (rc != 0) {
                    abortCreated(api, comms, ranks.length);
                    throw NcclException.of(api, rc, 0, what);
                }
                return adoptAll(api, comms, ranks, nranks);
            }
        });
    }

    private static List<NcclCommunicator> adoptAll(NcclApi api, MemorySegment comms, int[] ranks, int nranks) {
        List<NcclCommunicator> out = new ArrayList<>(ranks.length);
        try {
            for (int i = 0; i < ranks.length; i++) {
                out.add(NcclCommunicator.adopt(api, comms.getAtIndex(ADDRESS, i).address(), ranks[i], nranks));
            }
            return List.copyOf(out);
        } catch (RuntimeException e) {
            out.forEach(NcclCommunicator::abort);
            for (int i = out.size(); i < ranks.length; i++) {
                long h = comms.getAtIndex(ADDRESS, i).address();
                if (h != 0) {
                    api.commAbort(h);
                }
            }
            throw e;
        }
    }

    private static void abortCreated(NcclApi api, MemorySegment comms, int n) {
        for (int i = 0; i < n; i++) {
            long h = comms.getAtIndex(ADDRESS, i).address();
            if (h != 0) {
                api.commAbort(h);
            }
        }
    }

    private static int[] rangeOf(int n) {
        int[] r = new int[n];
        Arrays.setAll(r, i -> i);
        return r;
    }

    private static <T extends List<?>> T withTimeout(String what, Duration timeout, Supplier<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().daemon().name("nccl-init").start(() -> {
            try {
                f.complete(work.get());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            // the set-up thread stays blocked inside NCCL (a daemon); should it finish after all, let go of its work
            f.thenAccept(made -> made.forEach(c -> {
                if (c instanceof NcclCommunicator comm) {
                    comm.abort();
                }
            }));
            throw new NcclException(what + " did not complete within " + timeout.toSeconds() + " s: did every rank"
                    + " (every process) start with the same unique id? (cohort.nccl.init-timeout)",
                    NcclResult.TIMEOUT.code(), e);
        } catch (InterruptedException e) {
            t.interrupt();
            Thread.currentThread().interrupt();
            throw new NcclException(what + " interrupted", NcclResult.SYSTEM_ERROR.code(), e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new NcclException(what + " failed: " + e.getCause(), NcclResult.INTERNAL_ERROR.code(), e.getCause());
        }
    }
}
