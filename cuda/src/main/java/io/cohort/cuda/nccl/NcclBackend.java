package io.cohort.cuda.nccl;

import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.CohortException;
import io.cohort.cuda.NativeCudaStream;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceKind;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Collectives through NCCL, one communicator per rank this process drives.
 *
 * <p><b>Launching.</b> With one local rank (the usual one-process-per-GPU set-up) {@link #enqueue} calls NCCL at
 * once on the rank's stream. With several, one thread may drive them all, and NCCL then needs their calls in one
 * ncclGroupStart/End, or the first waits for peers that are never launched. So (launch mode GROUPED) each rank's
 * enqueue is parked until every local rank has enqueued that seq, and the last one launches them all in one
 * group. The early ranks' enqueues still return with the work stream-ordered, as the {@link CollectiveBackend}
 * contract asks: each rank's stream writes {@code READY = seq} to a pinned host flag and waits for
 * {@code DONE >= seq}; NCCL runs on a second stream per rank that waits for {@code READY >= seq}, runs the
 * collective and writes {@code DONE = seq}. Flags only grow, so nothing is allocated per call, ranks may enqueue
 * in any order and from any thread, and a stream that waits for seq s never blocks NCCL work of an earlier seq.
 *
 * <p><b>Checking.</b> Every part is validated before NCCL sees it (sizes, devices, root, in-place layout), and
 * the calls of the local ranks for one seq are compared with one another ({@link SeqWindow}). Errors name the
 * rank(s) and seq. An error that leaves other ranks waiting for a collective fails the backend: its
 * communicators are aborted, the waiting streams released, and every later enqueue throws. Communicators'
 * asynchronous errors (e.g. a dead peer process) are polled by a watchdog thread and fail the backend the same
 * way, so nothing hangs.
 */
public final class NcclBackend implements CollectiveBackend {

    private static final Logger LOG = LoggerFactory.getLogger(NcclBackend.class);

    private final NcclApi api;
    private final NcclSettings settings;
    private final NcclVersion version;
    private final int ranks;
    /** By group rank; null where another process drives the rank. */
    private final NcclRank[] byRank;
    private final List<NcclRank> local;
    private final boolean grouped;
    /** Null with a single local rank: there is nobody to compare with or wait for. */
    private final SeqWindow window;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicReference<RuntimeException> failure = new AtomicReference<>();
    private final Thread watchdog;
    private volatile boolean closed;

    public NcclBackend(NcclApi api, GroupContext group, NcclSettings settings) {
        checkGroup(group, settings).ifPresent(reason -> {
            throw new NcclUnavailableException(reason);
        });
        this.api = api;
        this.settings = settings;
        this.version = queryVersion(api);
        if (!version.atLeast(NcclVersion.MINIMUM)) {
            throw new NcclUnavailableException("NCCL " + version + " is too old: Cohort needs " + NcclVersion.MINIMUM
                    + " or newer (bf16, ncclAvg)");
        }
        this.ranks = group.topology().size();
        this.byRank = new NcclRank[ranks];
        List<RankContext> contexts = new ArrayList<>(group.ranks());
        contexts.sort(Comparator.comparingInt(RankContext::rank));
        List<NcclRank> rs = new ArrayList<>();
        for (RankContext rc : contexts) {
            NcclRank r = new NcclRank(rs.size(), rc, (NativeCudaStream) rc.stream());
            rs.add(r);
            byRank[r.rank] = r;
        }
        this.local = List.copyOf(rs);
        this.grouped = switch (settings.launch()) {
            case AUTO -> local.size() > 1;
            case GROUPED -> true;
            case DIRECT -> false;
        };
        int[] localRanks = local.stream().mapToInt(r -> r.rank).toArray();
        // grouped launches always go through the window (it is where the launching rank finds the others'
        // parts), even with one local rank; direct launches need it only to compare ranks of this process
        this.window = grouped || local.size() > 1 ? new SeqWindow(localRanks, settings.maxPending()) : null;
        try {
            if (grouped) {
                local.forEach(NcclRank::prepareGrouped);
            }
            List<NcclCommunicator> comms = createCommunicators(localRanks);
            for (NcclRank r : local) {
                r.comm = comms.get(r.local);
            }
            for (NcclRank r : local) {
                if (r.comm.cudaDevice() != r.cudaDevice()) {
                    throw new NcclException("NCCL put " + r.label + " on cuda:" + r.comm.cudaDevice()
                            + ", not on its stream's device", NcclResult.INVALID_USAGE.code());
                }
            }
        } catch (RuntimeException e) {
            onEachRank(local, r -> {
                if (r.comm != null) {
                    r.comm.abort();
                }
            }, settings.closeTimeout());
            local.forEach(NcclRank::freeGrouped);
            throw e;
        }
        Duration poll = settings.asyncErrorPoll();
        this.watchdog = poll.isZero() || poll.isNegative() ? null
                : Thread.ofPlatform().daemon().name("nccl-watchdog").start(() -> watch(poll));
        LOG.info("NCCL {} backend: {} of {} ranks in this process, {} launch", version, local.size(), ranks,
                grouped ? "grouped" : "direct");
    }

    /**
     * Why NCCL cannot serve {@code group}, checked without touching NCCL: devices must be CUDA devices with
     * {@link NativeCudaStream} streams, one GPU per rank, and a group spanning processes needs the unique id.
     */
    public static Optional<String> checkGroup(GroupContext group, NcclSettings settings) {
        int n = group.topology().size();
        if (group.ranks().isEmpty()) {
            return Optional.of("NCCL: no rank of the group runs in this process");
        }
        boolean[] seenRank = new boolean[n];
        List<Integer> devices = new ArrayList<>();
        for (RankContext rc : group.ranks()) {
            if (rc.rank() < 0 || rc.rank() >= n) {
                return Optional.of("NCCL: rank " + rc.rank() + " is outside the " + n + "-rank topology");
            }
            if (seenRank[rc.rank()]) {
                return Optional.of("NCCL: rank " + rc.rank() + " appears twice");
            }
            seenRank[rc.rank()] = true;
            if (rc.device().kind() != DeviceKind.CUDA) {
                return Optional.of("NCCL needs CUDA devices: rank " + rc.rank() + " runs on " + rc.device().name());
            }
            if (!(rc.stream() instanceof NativeCudaStream ns)) {
                return Optional.of("NCCL needs CUDA streams: rank " + rc.rank() + "'s stream ("
                        + rc.stream().getClass().getSimpleName() + ") is not a " + NativeCudaStream.class.getName());
            }
            if (devices.contains(ns.deviceOrdinal())) {
                return Optional.of("NCCL needs one GPU per rank: cuda:" + ns.deviceOrdinal() + " serves two ranks");
            }
            devices.add(ns.deviceOrdinal());
        }
        if (group.ranks().size() < n && settings.uniqueId().isEmpty()) {
            return Optional.of("NCCL: the group spans processes (" + group.ranks().size() + " of " + n
                    + " ranks here) but no cohort.nccl.unique-id was given; the coordinator must hand every"
                    + " process the same id");
        }
        return Optional.empty();
    }

    private List<NcclCommunicator> createCommunicators(int[] localRanks) {
        if (local.size() == ranks) {
            int[] devices = local.stream().mapToInt(NcclRank::cudaDevice).toArray();
            return NcclCommunicators.initAll(api, devices, settings.initTimeout());
        }
        NcclUniqueId id = settings.uniqueId().orElseThrow();
        List<NativeCudaStream> streams = local.stream().map(r -> r.nativeStream).toList();
        return NcclCommunicators.initRanks(api, id, ranks, localRanks, streams, settings.initTimeout());
    }

    private static NcclVersion queryVersion(NcclApi api) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            NcclException.check(api, api.getVersion(out), 0, "ncclGetVersion");
            return NcclVersion.fromCode(out.get(ValueLayout.JAVA_INT, 0));
        }
    }

    @Override
    public BackendKind kind() {
        return BackendKind.NCCL;
    }

    @Override
    public int ranks() {
        return ranks;
    }

    public NcclVersion version() {
        return version;
    }

    /** Whether several local ranks are launched together (see the class comment). */
    public boolean groupedLaunch() {
        return grouped;
    }

    /** The local ranks' communicators, in rank order. */
    public List<NcclCommunicator> communicators() {
        return local.stream().map(r -> r.comm).toList();
    }

    /** The state of a rank this process drives (tests look at its flags). */
    NcclRank localRank(int rank) {
        return byRank[rank];
    }

    /** The error that failed this backend, if one did. */
    public Optional<RuntimeException> failure() {
        return Optional.ofNullable(failure.get());
    }

    @Override
    public void enqueue(int rank, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        NcclRank r = rank >= 0 && rank < ranks ? byRank[rank] : null;
        if (r == null) {
            throw new CohortException("NCCL: rank " + rank + " is not driven by this process (its ranks: "
                    + Arrays.toString(local.stream().mapToInt(x -> x.rank).toArray()) + ")");
        }
        checkHealthy(r);
        if (grouped) {
            enqueueGrouped(r, seq, call, send, recv);
        } else {
            enqueueDirect(r, seq, call, send, recv);
        }
    }

    private void enqueueDirect(NcclRank r, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        if (window == null) {
            NcclCallValidator.validate(r.rank, ranks, r.cudaDevice(), r.label, seq, call, send, recv);
        } else {
            lock.lock();
            try {
                int slot = admit(r, seq, call, send, recv);
                if (slot >= 0) {
                    window.clear(slot);
                }
            } finally {
                lock.unlock();
            }
        }
        // outside the lock: in direct mode NCCL may block this thread until the other ranks' threads arrive
        try {
            r.nativeStream.makeContextCurrent();
            r.launch(api, seq, call, send, recv, r.nativeStream.nativeHandle());
        } catch (RuntimeException e) {
            throw fail(e);
        }
    }

    private void enqueueGrouped(NcclRank r, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        lock.lock();
        try {
            checkHealthy(r);
            int slot = admit(r, seq, call, send, recv);
            try {
                r.stream.writeValue(r.flags, NcclRank.READY, seq);
                r.stream.waitValue(r.flags, NcclRank.DONE, seq);
                if (slot >= 0) {
                    launchGroup(slot);
                }
            } catch (RuntimeException e) {
                throw fail(e);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Validates the part and enters it into the window (under the lock). Returns the slot once every local
     * rank has arrived, else -1. An error with other ranks already waiting fails the backend: they would
     * otherwise wait forever.
     */
    private int admit(NcclRank r, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        try {
            NcclCallValidator.validate(r.rank, ranks, r.cudaDevice(), r.label, seq, call, send, recv);
            int slot = window.arrive(r.local, seq, call, send, recv);
            if (slot >= 0) {
                window.checkNoneSkipped(slot);
            }
            return slot;
        } catch (CohortException e) {
            if (window.hasPending()) {
                throw fail(e);
            }
            throw e;
        }
    }

    /** Launches every local rank's part of the collective in {@code slot} in one NCCL group (under the lock). */
    private void launchGroup(int slot) {
        long s = window.seq(slot);
        CollectiveCall call = window.call(slot);
        for (NcclRank r : local) {
            r.launchStream.waitValue(r.flags, NcclRank.READY, s);
        }
        NcclException.check(api, api.groupStart(), 0, "ncclGroupStart (seq " + s + ")");
        RuntimeException error = null;
        try {
            for (NcclRank r : local) {
                r.launch(api, s, call, window.send(slot, r.local), window.recv(slot, r.local),
                        r.nativeLaunchStream.nativeHandle());
            }
        } catch (RuntimeException e) {
            error = e;
        }
        // the group must be closed even when a call in it failed
        int end = api.groupEnd();
        if (error != null) {
            throw error;
        }
        NcclException.check(api, end, 0, "ncclGroupEnd of " + NcclRank.cName(call) + " (seq " + s + ")");
        for (NcclRank r : local) {
            r.launchStream.writeValue(r.flags, NcclRank.DONE, s);
        }
        window.clear(slot);
    }

    private void checkHealthy(NcclRank r) {
        if (closed) {
            throw new CohortException("NCCL backend is closed");
        }
        RuntimeException f = failure.get();
        if (f != null) {
            throw new CohortException("NCCL backend failed earlier (" + f.getMessage() + ")", f);
        }
        if (watchdog == null) {
            try {
                r.comm.checkAsyncError();
            } catch (NcclException e) {
                throw fail(e);
            }
        }
    }

    /**
     * Fails the backend for good: releases every stream waiting on a grouped launch, aborts the communicators
     * (all at once: an abort may wait for the other local ranks' aborts) and returns {@code cause} to throw.
     */
    private RuntimeException fail(RuntimeException cause) {
        if (!failure.compareAndSet(null, cause)) {
            return cause;
        }
        LOG.error("NCCL backend failed; aborting the communicators of ranks {}", localRankList(), cause);
        local.forEach(NcclRank::releaseGate);
        List<NcclRank> stuck = onEachRank(local, r -> {
            if (r.comm != null) {
                r.comm.abort();
            }
        }, settings.closeTimeout());
        if (!stuck.isEmpty()) {
            LOG.error("ncclCommAbort did not return within {} for {}", settings.closeTimeout(), labels(stuck));
        }
        return cause;
    }

    private void watch(Duration interval) {
        long nanos = interval.toNanos();
        while (!closed && failure.get() == null) {
            try {
                TimeUnit.NANOSECONDS.sleep(nanos);
            } catch (InterruptedException e) {
                return;
            }
            for (NcclRank r : local) {
                try {
                    r.comm.checkAsyncError();
                } catch (NcclException e) {
                    if (!closed) {
                        fail(e);
                    }
                    return;
                }
            }
        }
    }

    @Override
    public String describe(CollectiveCall call) {
        return "NCCL " + version + " " + NcclRank.cName(call) + " " + SeqWindow.describe(call) + " over " + ranks
                + " ranks (" + local.size() + " here, " + (grouped ? "grouped launch" : "direct launch") + ")";
    }

    /**
     * Destroys the communicators (each on its own thread: destroying is collective among the ranks), or aborts
     * them if the backend failed. Collectives still waiting for a rank are given up, and their streams released.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (watchdog != null) {
            watchdog.interrupt();
            joinQuietly(watchdog, settings.closeTimeout());
        }
        boolean locked = tryLock(settings.closeTimeout());
        try {
            if (window != null && window.hasPending()) {
                LOG.warn("NCCL backend closed with collectives still waiting for local ranks; their streams are released");
            }
            local.forEach(NcclRank::releaseGate);
            List<NcclRank> stuck = failure.get() != null ? List.of()
                    : onEachRank(local, r -> r.comm.close(), settings.closeTimeout());
            if (!stuck.isEmpty()) {
                throw new NcclException("ncclCommDestroy did not return within " + settings.closeTimeout() + " for "
                        + labels(stuck) + " (a rank in another process not closing?)", NcclResult.TIMEOUT.code());
            }
            if (grouped) {
                for (NcclRank r : local) {
                    try {
                        // the streams may still read the flags: let them drain before the memory goes
                        r.launchStream.synchronize();
                        r.stream.synchronize();
                        r.freeGrouped();
                    } catch (RuntimeException e) {
                        LOG.warn("{}: streams did not drain at close; its NCCL stream and flags are left allocated", r.label, e);
                    }
                }
            }
        } finally {
            if (locked) {
                lock.unlock();
            }
        }
    }

    /** Runs {@code action} for every rank concurrently; returns the ranks that did not finish in time. */
    private static List<NcclRank> onEachRank(List<NcclRank> rs, Consumer<NcclRank> action, Duration timeout) {
        List<Thread> threads = new ArrayList<>();
        List<RuntimeException> errors = new ArrayList<>();
        for (NcclRank r : rs) {
            threads.add(Thread.ofPlatform().daemon().name("nccl-rank-" + r.rank).start(() -> {
                try {
                    action.accept(r);
                } catch (RuntimeException e) {
                    synchronized (errors) {
                        errors.add(e);
                    }
                }
            }));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        List<NcclRank> stuck = new ArrayList<>();
        for (int i = 0; i < threads.size(); i++) {
            long left = Math.max(1, deadline - System.nanoTime());
            if (!joinQuietly(threads.get(i), Duration.ofNanos(left))) {
                stuck.add(rs.get(i));
            }
        }
        synchronized (errors) {
            if (!errors.isEmpty()) {
                RuntimeException first = errors.getFirst();
                errors.stream().skip(1).forEach(first::addSuppressed);
                throw first;
            }
        }
        return stuck;
    }

    private static boolean joinQuietly(Thread t, Duration timeout) {
        try {
            return t.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private boolean tryLock(Duration timeout) {
        try {
            return lock.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private String localRankList() {
        return Arrays.toString(local.stream().mapToInt(r -> r.rank).toArray());
    }

    private static String labels(List<NcclRank> rs) {
        return String.join(", ", rs.stream().map(r -> r.label).toList());
    }
}
