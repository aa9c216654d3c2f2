package io.cohort.actor;

import io.cohort.backend.BackendChoice;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.RankEnqueueException;
import io.cohort.core.CohortException;
import io.cohort.core.IdlePolicy;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceStream;
import io.cohort.device.Tensor;
import io.cohort.group.CollectiveFailedException;
import io.cohort.group.CollectiveResult;
import io.cohort.metrics.CollectiveEvent;
import io.cohort.metrics.CollectiveMetrics;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import jdk.jfr.EventType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data plane of one group: the caller's thread enqueues each collective on every rank's stream
 * ({@link CollectiveBackend#enqueueAll}, as {@code LocalGroup} does), records an event per rank behind it, and
 * the Cohort's {@link CompletionPoller} completes the returned stage once every event has completed. No
 * message, no actor, no allocation per call beyond the stage and its result.
 *
 * <p><b>Order.</b> A caller enqueues while holding the enqueue lock of every device of the group, taken in one
 * Cohort-wide order ({@link DeviceSlot#order}). So the collectives of one group get sequence numbers in the
 * order their callers took the locks (from one thread: call order; from several threads: some interleaving
 * of each thread's call order), and collectives of groups that share a device reach every shared device in the
 * same order, so they cannot wait for each other crosswise.
 *
 * <p><b>Control plane.</b> The coordinator owns everything else: it builds the backend on the devices' current
 * streams and hands it over as an {@link Epoch} ({@link #activate}); after a failure it takes it back
 * ({@link #suspend}), resets the streams and hands over a fresh one. While there is no usable epoch, calls are
 * parked here, in call order, and started by whoever activates the next. Deadlines are checked by the poller
 * on every round (the oldest collective first): a collective not complete within the collective timeout fails
 * naming the ranks that did not finish, and the coordinator is told to recover.
 *
 * <p>Thread-safety: {@link #submit} from any thread; {@link #poll} on the poller's thread; the control methods
 * on the coordinator's. A collective is finished exactly once, by whoever wins its slot's ticket.
 *
 * <p><b>Why one file of more than 500 lines.</b> The slot ring, its publication order, the ticket that
 * finishes a collective once, the epoch hand-over and the parked calls form one lock-and-publish protocol
 * between callers, the poller and the coordinator; split across classes, its invariants could no longer be
 * checked in one reading. Candidates to move out once the protocol settles: {@link Epoch}, {@link Slot}.
 */
public final class GroupSequencer implements Pollable {

    private static final Logger LOG = LoggerFactory.getLogger(GroupSequencer.class);
    private static final EventType JFR_TYPE = EventType.getEventType(CollectiveEvent.class);
    /** Collectives in flight per group at most; a caller beyond it waits (bounded by the timeout). */
    static final int CAPACITY = 1024;
    private static final int MASK = CAPACITY - 1;
    private static final long FINISHING = -1;
    private static final VarHandle TICKET;

    static {
        try {
            TICKET = MethodHandles.lookup().findVarHandle(Slot.class, "ticket", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** What the coordinator hears from the data plane (from callers' threads and the poller's). */
    interface ControlPlane {
        /** Epoch {@code epochId} of the group broke ({@code reason}): recover. */
        void failed(GroupSequencer group, long epochId, String reason);

        /** The group is closing and nothing is in flight any more. */
        void drained(GroupSequencer group);
    }

    /**
     * A backend built on the streams the devices had then, for as long as they keep them. {@code seq} counts
     * its collectives (guarded by the enqueue locks); {@code broken} stops new calls once one has failed.
     */
    static final class Epoch {
        final long id;
        final CollectiveBackend backend;
        final BackendChoice choice;
        final Function<CollectiveCall, String> algorithms;
        final DeviceStream[] streams;
        /**
         * Every stream runs callbacks ({@link DeviceStream#enqueueCallback}: host streams): each rank's stream
         * says when its part is done, so the poller sleeps between those instead of spinning.
         */
        final boolean callbacks;
        long seq;
        volatile boolean broken;

        Epoch(long id, CollectiveBackend backend, BackendChoice choice, Function<CollectiveCall, String> algorithms,
              DeviceStream[] streams) {
            this.id = id;
            this.backend = backend;
            this.choice = choice;
            this.algorithms = algorithms;
            this.streams = streams;
            this.callbacks = Arrays.stream(streams).allMatch(DeviceStream::runsCallbacks);
        }
    }

    /** One collective in flight; reused round the ring. */
    static final class Slot {
        /** Non-zero while pending; FINISHING while its finisher runs; 0 once finished (slot reusable). */
        volatile long ticket;
        /** Every rank's event is recorded (the enqueue returned). */
        volatile boolean recorded;
        final DeviceEvent[] events;
        CompletableFuture<CollectiveResult> future;
        Epoch epoch;
        CollectiveCall call;
        String algorithm;
        CollectiveMetrics.Recorder recorder;
        CollectiveEvent jfr;
        long seq;
        long bytes;
        long submittedNanos;
        long enqueuedNanos;
        long deadlineNanos;

        Slot(int ranks) {
            this.events = new DeviceEvent[ranks];
        }

        void clear() {
            future = null;
            epoch = null;
            call = null;
            recorder = null;
            jfr = null;
        }
    }

    /** A call waiting for an epoch, with copies of its buffers. */
    private record Parked(CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv, long submittedNanos,
                          CompletableFuture<CollectiveResult> future) {
    }

    private final int id;
    private final Device[] devices;
    private final ReentrantLock[] locks;
    private final CompletionPoller poller;
    private final ControlPlane control;
    private final Duration timeout;
    private final CollectiveMetrics metrics;
    private final IdlePolicy callerIdle;
    private final Slot[] ring = new Slot[CAPACITY];
    private final DeviceBuffer[] sendBuffers;
    private final DeviceBuffer[] recvBuffers;
    private final ConcurrentLinkedDeque<Parked> parked = new ConcurrentLinkedDeque<>();
    private final AtomicBoolean drainedReported = new AtomicBoolean();
    /** Held by whoever polls (the poller, or a caller waiting for its own collective): one at a time. */
    private final AtomicBoolean polling = new AtomicBoolean();
    /** Someone asked for a poll while another thread held {@link #polling}: the holder polls again. */
    /**
     * A rank's stream finished its part of a collective since the last round (host epochs): the poller has
     * something to finish. Set before the wake, cleared by the round, so a wake is never lost.
     */
    private volatile boolean streamDone;
    // the stage a polling round finished, completed by the polling thread once the round has released the group
    // (under polling; roundThread: the thread whose round runs now, so that a failure raised elsewhere, e.g. the
    // coordinator aborting what is in flight, completes at once)
    private Thread roundThread;
    private CompletableFuture<CollectiveResult> finished;
    private CollectiveResult finishedResult;
    private Throwable finishedError;
    /** What a rank's stream thread runs once its part of a collective is done (host streams; one instance). */
    private final Runnable streamDoneWaker = this::streamDone;
    /** Callers busy-waiting on a stage of this group (they poll it themselves). */
    private final java.util.concurrent.atomic.AtomicInteger helpers = new java.util.concurrent.atomic.AtomicInteger();

    /** When the newest collective was started (its events recorded); read by {@link #needsPoller}. */
    private volatile long lastStartNanos;
    /** Next slot to fill (callers, under the locks); published after the slot's fields. */
    private volatile long tail;
    /** Oldest slot not yet reusable (the poller). */
    private volatile long head;
    private long tickets;
    private volatile Epoch epoch;
    /** Why calls are refused (closed, Cohort stopped), or null. */
    private volatile String refusal;
    private volatile boolean closing;
    // the last call's algorithm and metrics series (under the locks): the same call again looks nothing up
    private CollectiveCall lastCall;
    private Epoch lastEpoch;
    private String lastAlgorithm;
    private CollectiveMetrics.Recorder lastRecorder;

    GroupSequencer(int id, DeviceSlot[] ranks, CompletionPoller poller, ControlPlane control, Duration timeout,
                   CollectiveMetrics metrics, IdlePolicy callerIdle) {
        this.id = id;
        this.devices = Arrays.stream(ranks).map(s -> s.device).toArray(Device[]::new);
        this.locks = Arrays.stream(ranks).sorted(Comparator.comparingInt(s -> s.order)).map(s -> s.enqueueLock)
                .toArray(ReentrantLock[]::new);
        this.poller = poller;
        this.control = control;
        this.timeout = timeout;
        this.metrics = metrics;
        this.callerIdle = callerIdle;
        for (int i = 0; i < CAPACITY; i++) {
            ring[i] = new Slot(ranks.length);
        }
        this.sendBuffers = new DeviceBuffer[ranks.length];
        this.recvBuffers = new DeviceBuffer[ranks.length];
        poller.register(this);
    }

    public int id() {
        return id;
    }

    /** Ranks of the group. */
    public int size() {
        return devices.length;
    }

    /**
     * Enqueues {@code call} with rank r's {@code send.get(r)}/{@code recv.get(r)} (checked by the caller;
     * null where the collective does not use it) on every rank's stream, or parks it while the group recovers.
     * Throws at once when the group refuses calls (closed, Cohort stopped).
     */
    public CompletableFuture<CollectiveResult> submit(CollectiveCall call, List<Tensor> send, List<Tensor> recv,
                                                      long submittedNanos) {
        CollectiveFuture future = new CollectiveFuture(callerIdle, this);
        lockAll(call);
        try {
            checkAccepting();
            for (int r = 0; r < devices.length; r++) {
                Tensor s = send.get(r);
                Tensor v = recv.get(r);
                sendBuffers[r] = s == null ? null : s.buffer();
                recvBuffers[r] = v == null ? null : v.buffer();
            }
            submitLocked(call, submittedNanos, future);
        } finally {
            unlockAll();
        }
        return future;
    }

    /** Like {@link #submit(CollectiveCall, List, List, long)} with rank r's buffers {@code send[r]}, {@code recv[r]}. */
    public CompletableFuture<CollectiveResult> submit(CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv,
                                                      long submittedNanos) {
        if (send.length != devices.length || recv.length != devices.length) {
            throw new CohortException("group " + id + " has " + devices.length + " ranks, got " + send.length
                    + " send and " + recv.length + " recv buffers");
        }
        CollectiveFuture future = new CollectiveFuture(callerIdle, this);
        lockAll(call);
        try {
            checkAccepting();
            System.arraycopy(send, 0, sendBuffers, 0, devices.length);
            System.arraycopy(recv, 0, recvBuffers, 0, devices.length);
            submitLocked(call, submittedNanos, future);
        } finally {
            unlockAll();
        }
        return future;
    }

    private void checkAccepting() {
        String why = refusal;
        if (why != null) {
            throw new CohortException(why);
        }
    }

    /** Under the locks, with the buffers in sendBuffers/recvBuffers. */
    private void submitLocked(CollectiveCall call, long submittedNanos, CompletableFuture<CollectiveResult> future) {
        Epoch e = epoch;
        if (e == null || e.broken || !parked.isEmpty()) {
            park(call, submittedNanos, future);
            return;
        }
        start(e, call, sendBuffers, recvBuffers, submittedNanos, future);
        Arrays.fill(sendBuffers, null);
        Arrays.fill(recvBuffers, null);
    }

    private void park(CollectiveCall call, long submittedNanos, CompletableFuture<CollectiveResult> future) {
        parked.add(new Parked(call, sendBuffers.clone(), recvBuffers.clone(), submittedNanos, future));
        Arrays.fill(sendBuffers, null);
        Arrays.fill(recvBuffers, null);
        Epoch e = epoch; // re-read after parking: an activation that missed this call would leave it here
        if (e != null && !e.broken) {
            startParkedLocked();
        }
    }

    /** Starts the parked calls in order while there is a usable epoch; under the locks. */
    private void startParkedLocked() {
        Parked p;
        while ((p = parked.peek()) != null) {
            Epoch e = epoch;
            if (e == null || e.broken) {
                return;
            }
            parked.poll();
            if (p.future().isDone()) {
                continue; // failed meanwhile (deadline, close)
            }
            if (refusal != null) {
                p.future().completeExceptionally(new CohortException(refusal));
                continue;
            }
            start(e, p.call(), p.send(), p.recv(), p.submittedNanos(), p.future());
        }
    }

    /** Registers the collective (its deadline runs from now), enqueues every rank's part, records the events. */
    private void start(Epoch e, CollectiveCall call, DeviceBuffer[] send, DeviceBuffer[] recv, long submittedNanos,
                       CompletableFuture<CollectiveResult> future) {
        Slot s = claimSlot(call);
        if (call != lastCall || e != lastEpoch) {
            if (!call.equals(lastCall) || e != lastEpoch) {
                String algorithm;
                try {
                    algorithm = e.algorithms.apply(call);
                } catch (RuntimeException ex) {
                    future.completeExceptionally(new CohortException("group " + id + " cannot run "
                            + call.collective().cliName() + ": " + ex.getMessage(), ex));
                    return;
                }
                lastAlgorithm = algorithm;
                lastRecorder = metrics.recorder(call.collective(), e.choice.chosen(), algorithm,
                        Coordinator.messageBytes(call, devices.length));
            }
            lastCall = call;
            lastEpoch = e;
        }
        long seq = e.seq + 1;
        s.future = future;
        s.epoch = e;
        s.call = call;
        s.algorithm = lastAlgorithm;
        s.recorder = lastRecorder;
        s.seq = seq;
        s.bytes = Coordinator.messageBytes(call, devices.length);
        s.submittedNanos = submittedNanos;
        s.deadlineNanos = System.nanoTime() + timeout.toNanos();
        s.recorded = false;
        if (JFR_TYPE.isEnabled()) {
            s.jfr = new CollectiveEvent();
            s.jfr.begin();
        }
        long ticket = ++tickets;
        s.ticket = ticket; // volatile: publishes the fields; the poller watches the deadline from here on
        tail = tail + 1;
        if (future instanceof CollectiveFuture cf) {
            cf.started(s, ticket);
        }
        try {
            for (int r = 0; r < devices.length; r++) {
                if (s.events[r] == null) {
                    s.events[r] = devices[r].createCompletionEvent();
                }
            }
            e.backend.enqueueAllAndRecord(seq, call, send, recv, e.streams, s.events);
            e.seq = seq;
            s.enqueuedNanos = System.nanoTime();
            lastStartNanos = s.enqueuedNanos;
            s.recorded = true;
            if (e.callbacks) {
                // host streams say when each rank's part is done: the poller need not spin meanwhile
                for (DeviceStream stream : e.streams) {
                    stream.enqueueCallback(streamDoneWaker);
                }
            }
        } catch (RuntimeException ex) {
            int rank = ex instanceof RankEnqueueException re ? re.rank() : -1;
            Throwable cause = ex instanceof RankEnqueueException && ex.getCause() != null ? ex.getCause() : ex;
            String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
            String who = rank >= 0 ? "rank " + rank + " on " + devices[rank].name() : "the enqueue";
            e.broken = true;
            if (finish(s, ticket)) {
                fail(s, describe(s) + " failed: " + who + " threw: " + why,
                        rank >= 0 ? List.of(devices[rank].name()) : names(), cause);
            }
            control.failed(this, e.id, who + " failed");
            return;
        }
        if (epoch != e && finish(s, ticket)) {
            // suspended while enqueueing: the streams are being replaced, the work may never complete
            fail(s, describe(s) + " aborted: the group's streams were reset meanwhile", List.of(), null);
        }
        if (!e.callbacks) {
            poller.wake();
        }
    }

    /** The next free slot; waits (without the locks' holders' help) while the ring is full. */
    private Slot claimSlot(CollectiveCall call) {
        long t = tail;
        if (t - head >= CAPACITY) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (t - head >= CAPACITY) {
                if (System.nanoTime() - deadline > 0) {
                    throw new CohortException(call.collective().cliName() + " on group " + id + ": " + CAPACITY
                            + " collectives in flight did not complete within " + timeout.toMillis() + " ms");
                }
                Thread.yield(); // the poller frees slots; it never sleeps while work is pending
            }
        }
        Slot s = ring[(int) (t & MASK)];
        while (s.ticket != 0) {
            Thread.onSpinWait(); // its finisher is completing it
        }
        return s;
    }

    // ---- the poller's side --------------------------------------------------------------------------------

    @Override
    public boolean hasPending() {
        return head != tail;
    }

    @Override
    public boolean needsPoller() {
        if (head == tail || helpers.get() != 0) {
            return false;
        }
        Epoch e = epoch;
        long grace = poller.graceNanos();
        if (grace > 0 && e != null && !e.callbacks && System.nanoTime() - lastStartNanos < grace) {
            return false; // just started: its caller is likely to join and finish it (the poller lingers meanwhile)
        }
        // a host epoch's streams say when a part is done (streamDone): the poller sleeps between those
        return e == null || !e.callbacks || streamDone || !parked.isEmpty();
    }

    @Override
    public boolean keepsPollerAwake() {
        if (head == tail) {
            return false;
        }
        Epoch e = epoch;
        return e != null && !e.callbacks;
    }

    /**
     * A rank's stream thread, its part of a collective done: the caller blocked on the stage is woken by the
     * stream itself (it waits on the devices, {@link #awaitDevices}); with none, the poller finishes it. Never
     * completes the stage here: its dependent stages would run on the stream thread, and one that blocks on a
     * later collective of the group would stop the stream that collective needs.
     */
    private void streamDone() {
        if (helpers.get() == 0) {
            streamDone = true;
            poller.wake();
        }
    }

    /**
     * A caller blocked on the collective of slot {@code s} waits on the devices themselves, as a device's own
     * synchronize does (busy for a while, then parked until the device's completion wakes it: a host stream
     * unparks its waiter, CUDA blocks in the driver), then finishes what completed. Bounded by the collective's
     * deadline (where the device can bound its wait); a failure is left for {@link #poll} to report.
     */
    void awaitDevices(Slot s, long ticket) {
        DeviceEvent[] events = s.events;
        for (int r = 0; r < events.length && s.ticket == ticket; r++) {
            DeviceEvent ev = events[r];
            if (ev == null || !s.recorded) {
                return;
            }
            long left = s.deadlineNanos - System.nanoTime();
            if (left <= 0) {
                break; // past the deadline: poll() fails it, naming the late ranks
            }
            try {
                ev.synchronize(left); // never past the collective's deadline
            } catch (RuntimeException e) {
                break; // a failure or the deadline: reported by poll()
            }
        }
        poll(System.nanoTime());
    }

    /** Whether a round could finish slot {@code s} now: every rank's part is done, or it is no longer {@code ticket}'s. */
    boolean finishable(Slot s, long ticket) {
        return s.ticket != ticket || s.recorded && allComplete(s) || System.nanoTime() - s.deadlineNanos > 0;
    }

    /** A caller starts busy-waiting on one of this group's stages (and polls meanwhile). */
    void helperArrives() {
        helpers.incrementAndGet();
    }

    /** It stops (done, or going to park): the poller takes over whatever is still pending. */
    void helperLeaves() {
        if (helpers.decrementAndGet() == 0 && head != tail) {
            poller.wake();
        }
    }

    /**
     * Finishes what completed, in order, up to the first that has not; fails the oldest past its deadline. Called
     * by the poller, and by a caller blocked on a stage of this group (it finishes its own collective rather
     * than wait for the poller's thread to be scheduled); one at a time: a second caller returns at once.
     */
    @Override
    public boolean poll(long now) {
        boolean progress = false;
        while (polling.compareAndSet(false, true)) {
            CompletableFuture<CollectiveResult> f;
            CollectiveResult result;
            Throwable error;
            try {
                streamDone = false; // this round sees every part done before it
                roundThread = Thread.currentThread();
                progress |= pollExclusively(now);
            } finally {
                roundThread = null;
                f = finished;
                result = finishedResult;
                error = finishedError;
                finished = null;
                finishedResult = null;
                finishedError = null;
                polling.set(false);
            }
            if (f == null) {
                return progress;
            }
            // completed outside the round: the stage's dependents run here and may wait on this group, whose
            // next collectives this thread (or another) then polls
            if (error != null) {
                f.completeExceptionally(error);
            } else {
                f.complete(result);
            }
            progress = true;
            now = System.nanoTime();
        }
        return progress;
    }

    private boolean pollExclusively(long now) {
        boolean progress = false;
        long h = head;
        while (h != tail) {
            Slot s = ring[(int) (h & MASK)];
            long ticket = s.ticket;
            if (ticket == FINISHING) {
                break; // another thread is finishing it
            }
            if (ticket != 0) {
                if (!s.recorded || !allComplete(s)) {
                    if (now - s.deadlineNanos > 0) {
                        timedOut(s, ticket);
                        if (finished != null) {
                            break; // its stage is completed once this round has released the group
                        }
                        continue; // finished now: released below on the next round of this loop
                    }
                    break;
                }
                completed(s, ticket);
                if (finished != null) {
                    break; // its stage is completed once this round has released the group
                }
                continue;
            }
            s.clear();
            head = ++h;
            progress = true;
        }
        if (closing && h == tail && drainedReported.compareAndSet(false, true)) {
            control.drained(this);
        }
        return progress;
    }

    private static boolean allComplete(Slot s) {
        for (DeviceEvent ev : s.events) {
            if (!ev.isComplete()) {
                return false;
            }
        }
        return true;
    }

    private void completed(Slot s, long ticket) {
        Epoch e = s.epoch;
        RuntimeException failure = null;
        int failedRank = -1;
        for (int r = 0; r < devices.length && failure == null; r++) {
            try {
                s.events[r].synchronize(); // returns at once; CUDA rethrows a failure of the recorded work here
                DeviceException f = e.streams[r].failure(); // host streams keep failures on the stream
                if (f != null) {
                    throw f;
                }
            } catch (RuntimeException ex) {
                failure = ex;
                failedRank = r;
            }
        }
        if (!finish(s, ticket)) {
            return;
        }
        if (failure != null) {
            String why = failure.getMessage() == null ? failure.getClass().getSimpleName() : failure.getMessage();
            String who = "rank " + failedRank + " on " + devices[failedRank].name();
            e.broken = true;
            fail(s, describe(s) + " failed: " + who + " threw: " + why, List.of(devices[failedRank].name()), failure);
            control.failed(this, e.id, who + " failed");
            return;
        }
        long now = System.nanoTime();
        long enqueue = s.enqueuedNanos - s.submittedNanos;
        long elapsed = now - s.submittedNanos;
        s.recorder.completed(s.bytes, enqueue, elapsed);
        commitJfr(s, true);
        CompletableFuture<CollectiveResult> f = s.future;
        CollectiveResult result = new CollectiveResult(s.call.collective(), s.seq, e.choice.chosen(), s.algorithm,
                s.bytes, devices.length, enqueue, elapsed);
        s.ticket = 0;
        if (roundThread == Thread.currentThread()) {
            finished = f;
            finishedResult = result;
        } else {
            f.complete(result);
        }
    }

    private void timedOut(Slot s, long ticket) {
        List<String> late = new ArrayList<>();
        List<String> lateRanks = new ArrayList<>();
        for (int r = 0; r < devices.length; r++) {
            if (!s.recorded || !s.events[r].isComplete()) {
                late.add(devices[r].name());
                lateRanks.add("rank " + r + " (" + devices[r].name() + ")");
            }
        }
        if (!finish(s, ticket)) {
            return;
        }
        Epoch e = s.epoch;
        e.broken = true;
        String message = describe(s) + " timed out after " + timeout.toMillis() + " ms (cohort.collective.timeout): "
                + String.join(", ", lateRanks) + " did not complete";
        fail(s, message, late, null);
        control.failed(this, e.id, describe(s) + " timed out");
    }

    /** Takes the slot's ticket: true for the one thread that then finishes the collective. */
    private static boolean finish(Slot s, long ticket) {
        return TICKET.compareAndSet(s, ticket, FINISHING);
    }

    /** Fails a slot whose ticket this thread took; the slot is reusable afterwards. */
    private void fail(Slot s, String message, List<String> devicesAtFault, Throwable cause) {
        CompletableFuture<CollectiveResult> f = s.future;
        if (s.recorder != null) {
            s.recorder.failed();
        }
        commitJfr(s, false);
        LOG.warn(message);
        s.ticket = 0;
        CollectiveFailedException error = new CollectiveFailedException(message, devicesAtFault, cause);
        if (roundThread == Thread.currentThread()) {
            finished = f;
            finishedError = error;
        } else {
            f.completeExceptionally(error);
        }
    }

    private void commitJfr(Slot s, boolean succeeded) {
        CollectiveEvent ev = s.jfr;
        if (ev == null) {
            return;
        }
        ev.end();
        if (ev.shouldCommit()) {
            ev.collective = s.call.collective().cliName();
            ev.backend = s.epoch.choice.chosen().cliName();
            ev.algorithm = s.algorithm;
            ev.bytes = s.bytes;
            ev.ranks = devices.length;
            ev.group = id;
            ev.seq = s.seq;
            ev.succeeded = succeeded;
            ev.commit();
        }
    }

    private String describe(Slot s) {
        CollectiveCall c = s.call;
        return c.collective().cliName() + " #" + s.seq + " of group " + id + " (" + devices.length + " ranks, "
                + s.epoch.choice.chosen().cliName() + "/" + s.algorithm + ", " + c.count() + " x "
                + c.dtype().name().toLowerCase() + ")";
    }

    private List<String> names() {
        return Arrays.stream(devices).map(Device::name).toList();
    }

    // ---- the coordinator's side ---------------------------------------------------------------------------

    /** The epoch in use, or null while the group recovers. */
    Epoch epoch() {
        return epoch;
    }

    /** From now on calls run on {@code e} (its streams are the devices' current ones); starts the parked calls. */
    void activate(Epoch e) {
        epoch = e;
        if (!parked.isEmpty()) {
            // the parked calls need the enqueue locks, which a caller may hold for a while: not on this thread
            Thread.ofVirtual().name("cohort-group-" + id + "-resume").start(this::startParked);
        }
    }

    private void startParked() {
        try {
            lockAll(null);
        } catch (CohortException e) {
            failParked(e.getMessage());
            return;
        }
        try {
            startParkedLocked();
        } finally {
            unlockAll();
        }
    }

    /**
     * Takes the epoch back (its streams are about to be replaced): new calls park, and every collective in
     * flight fails, {@code "aborted: " + reason} (it was ordered behind, or runs on, the streams being reset).
     */
    void suspend(String reason) {
        Epoch e = epoch;
        if (e != null) {
            e.broken = true;
        }
        epoch = null;
        abortInFlight("aborted: " + reason);
    }

    private void abortInFlight(String why) {
        for (long h = head, t = tail; h != t; h++) {
            Slot s = ring[(int) (h & MASK)];
            long ticket = s.ticket;
            if (ticket > 0 && finish(s, ticket)) {
                fail(s, describe(s) + " " + why, List.of(), null);
            }
        }
        poller.wake();
    }

    /** Fails the calls parked since before {@code now - boundNanos} with {@code error}: they did not start in time. */
    void failParkedOlderThan(long now, long boundNanos, Function<CollectiveCall, RuntimeException> error) {
        for (Parked p : parked) {
            if (now - p.submittedNanos() - boundNanos >= 0 && !p.future().isDone()) {
                p.future().completeExceptionally(error.apply(p.call()));
            }
        }
    }

    /** Fails every parked call with {@code message}. */
    void failParked(String message) {
        Parked p;
        while ((p = parked.poll()) != null) {
            p.future().completeExceptionally(new CohortException(message));
        }
    }

    /**
     * Refuses new calls ({@code "group N is closed"}), fails the parked ones; what is in flight finishes (or
     * times out), then the coordinator hears {@link ControlPlane#drained}.
     */
    void close() {
        refusal = "group " + id + " is closed";
        closing = true;
        failParked("group " + id + " closed before the collective started");
        poller.wake(); // reports drained on its next round if nothing is in flight
    }

    /** The Cohort stops ({@code why}): refuses every later call saying so, fails everything pending. */
    void shutdown(String why) {
        refusal = why;
        Epoch e = epoch;
        if (e != null) {
            e.broken = true;
        }
        epoch = null;
        failParked(why);
        abortInFlight("aborted: " + why);
    }

    /** Forgets the group: the poller stops watching it; the events go back to the devices. */
    void release() {
        poller.unregister(this);
        List<DeviceEvent> events = new ArrayList<>();
        for (Slot s : ring) {
            for (DeviceEvent ev : s.events) {
                if (ev != null) {
                    events.add(ev);
                }
            }
        }
        // one closing thread for all of them (a group that ran 1024 collectives at once has 1024 events a rank)
        Reaper.closeQuietly("events of group " + id, () -> events.forEach(ev -> Reaper.closeLogged("event of group " + id, ev)));
    }

    /** Whether calls are refused now, and why (null: accepted). */
    public String refusal() {
        return refusal;
    }

    // ---- locks --------------------------------------------------------------------------------------------

    private void lockAll(CollectiveCall call) {
        int taken = 0;
        try {
            for (ReentrantLock lock : locks) {
                if (!lock.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                    throw new CohortException((call == null ? "group " + id : call.collective().cliName() + " on group " + id)
                            + ": a device's enqueue lock was held for more than " + timeout.toMillis()
                            + " ms (cohort.collective.timeout) by a collective that does not return");
                }
                taken++;
            }
        } catch (InterruptedException e) {
            unlock(taken);
            Thread.currentThread().interrupt();
            throw new CohortException("interrupted while enqueueing on group " + id, e);
        } catch (RuntimeException e) {
            unlock(taken);
            throw e;
        }
    }

    private void unlockAll() {
        unlock(locks.length);
    }

    private void unlock(int taken) {
        for (int i = taken - 1; i >= 0; i--) {
            locks[i].unlock();
        }
    }

    @Override
    public String toString() {
        return "GroupSequencer[" + id + ", " + (tail - head) + " in flight, " + parked.size() + " parked]";
    }

    /** The kind chosen for the epoch in use, for logs. */
    BackendKind kind() {
        Epoch e = epoch;
        return e == null ? null : e.choice.chosen();
    }
}
