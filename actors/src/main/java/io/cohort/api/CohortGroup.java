package io.cohort.api;

import io.cohort.actor.Coordinator;
import io.cohort.actor.GroupInfo;
import io.cohort.actor.GroupSequencer;
import io.cohort.backend.BackendChoice;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.Tensor;
import io.cohort.group.CollectiveFailedException;
import io.cohort.group.CollectiveResult;
import io.cohort.memory.MemoryPool;
import io.cohort.memory.PoolStats;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * A group of devices that run collectives together; rank r is {@code devices().get(r)}. Every collective
 * takes one tensor per rank (NCCL's conventions, see {@link Collective}) and returns at once; the stage
 * completes when every rank's device has finished, or fails with a {@link CollectiveFailedException}
 * naming the devices that threw or timed out, always within {@code cohort.collective.timeout}.
 *
 * <p>The calling thread enqueues the collective on every rank's stream itself (no message, no actor hop:
 * see {@link GroupSequencer}); the Cohort's completion thread completes the stage.
 *
 * <p><b>Order.</b> Collectives of one group run in the order they are called: from one thread, in call
 * order; when several threads share a group, each call is numbered when it is enqueued (one at a time), so
 * every rank runs the same interleaving, and each thread's own calls keep their order. Collectives of groups
 * that share a device reach every shared device in the same order. A thread's calls on different groups
 * are ordered only where the groups share a device.
 *
 * <p>Every argument is checked before anything is enqueued or allocated: a mistake throws a
 * {@link CohortException} at once, naming the rank and the problem.
 */
public final class CohortGroup implements AutoCloseable {

    private final ActorRef<Coordinator.Command> coordinator;
    private final BooleanSupplier cohortClosed;
    private final GroupInfo info;
    private final GroupSequencer sequencer;
    private final Duration apiTimeout;
    private final Duration closeTimeout;
    private final CompletableFuture<Void> coordinatorStopped;
    private final List<Tensor> barrierTensors;
    /** Where rank r's pool memory lives (the device itself, or the device a wrapper delegates to). */
    private final Device[] memoryDevices;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** The last call built: the same call again allocates nothing (races only cost a fresh record). */
    private volatile CollectiveCall lastCall;

    CohortGroup(ActorRef<Coordinator.Command> coordinator, BooleanSupplier cohortClosed, GroupInfo info,
                Duration apiTimeout, Duration closeTimeout, CompletableFuture<Void> coordinatorStopped) {
        this.coordinator = coordinator;
        this.cohortClosed = cohortClosed;
        this.info = info;
        this.sequencer = info.sequencer();
        this.apiTimeout = apiTimeout;
        this.closeTimeout = closeTimeout;
        this.coordinatorStopped = coordinatorStopped;
        this.barrierTensors = allocate(DType.F32, 1);
        this.memoryDevices = barrierTensors.stream().map(Tensor::device).toArray(Device[]::new);
    }

    public int size() {
        return info.devices().size();
    }

    public List<Device> devices() {
        return info.devices();
    }

    public Topology topology() {
        return info.topology();
    }

    /** The backend requested, the one chosen, and why. */
    public BackendChoice backendChoice() {
        return info.choice();
    }

    /** Rank {@code rank}'s pool (shared by every group on that device): capacity, bytes in use, counts. */
    public PoolStats poolStats(int rank) {
        return info.pools().get(rank).stats();
    }

    /**
     * One tensor of {@code count} elements per rank, from each device's pool; give them back with
     * {@link #release}. Refused (nothing allocated) for a negative count, a size that overflows, or a closed group.
     */
    public List<Tensor> allocate(DType dtype, long count) {
        checkOpen();
        if (dtype == null) {
            throw new CohortException("allocate: no dtype (null)");
        }
        if (count < 0) {
            throw new CohortException("allocate: negative element count " + count);
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(count, (long) dtype.bytes());
        } catch (ArithmeticException e) {
            throw new CohortException("allocate: " + count + " x " + dtype + " overflows a 64-bit byte size");
        }
        List<Tensor> tensors = new ArrayList<>(size());
        try {
            for (MemoryPool pool : info.pools()) {
                tensors.add(new Tensor(pool.allocate(Math.max(1, bytes)), dtype, count));
            }
        } catch (RuntimeException e) {
            release(tensors);
            throw e;
        }
        return List.copyOf(tensors);
    }

    /** Returns tensors from {@link #allocate} to the pools. */
    public void release(List<Tensor> tensors) {
        if (tensors.size() > size()) {
            throw new CohortException("release: " + tensors.size() + " tensors for a group of " + size() + " ranks");
        }
        for (int r = 0; r < tensors.size(); r++) {
            info.pools().get(r).release(tensors.get(r).buffer());
        }
    }

    public CompletionStage<CollectiveResult> allReduce(List<Tensor> send, List<Tensor> recv, ReduceOp op) {
        return collective(Collective.ALL_REDUCE, send, recv, op, 0);
    }

    /** In place: every tensor becomes op over all of them. */
    public CompletionStage<CollectiveResult> allReduce(List<Tensor> tensors, ReduceOp op) {
        return allReduce(tensors, tensors, op);
    }

    /** recv[r] = send[root] on every rank (send of other ranks is not read and may be null). */
    public CompletionStage<CollectiveResult> broadcast(List<Tensor> send, List<Tensor> recv, int root) {
        return collective(Collective.BROADCAST, send, recv, ReduceOp.SUM, root);
    }

    /** In place: every tensor becomes the root's. */
    public CompletionStage<CollectiveResult> broadcast(List<Tensor> tensors, int root) {
        return broadcast(tensors, tensors, root);
    }

    /** recv[root] = op over all send (recv of other ranks is not written and may be null). */
    public CompletionStage<CollectiveResult> reduce(List<Tensor> send, List<Tensor> recv, ReduceOp op, int root) {
        return collective(Collective.REDUCE, send, recv, op, root);
    }

    /** send[r] holds size() blocks of recv's length; recv[r] = op over block r of every send. */
    public CompletionStage<CollectiveResult> reduceScatter(List<Tensor> send, List<Tensor> recv, ReduceOp op) {
        return collective(Collective.REDUCE_SCATTER, send, recv, op, 0);
    }

    /** recv[r] holds every rank's send, in rank order. */
    public CompletionStage<CollectiveResult> allGather(List<Tensor> send, List<Tensor> recv) {
        return collective(Collective.ALL_GATHER, send, recv, ReduceOp.SUM, 0);
    }

    /** Completes once every rank has reached it: a one-element all-reduce. */
    public CompletionStage<CollectiveResult> barrier() {
        return allReduce(barrierTensors, ReduceOp.SUM);
    }

    /**
     * Runs {@code call} with rank r's {@code send.get(r)} and {@code recv.get(r)}; tensors may be longer than
     * the call needs. Throws {@link CohortException} at once for tensors that do not fit the call.
     */
    public CompletionStage<CollectiveResult> run(CollectiveCall call, List<Tensor> send, List<Tensor> recv) {
        long submitted = System.nanoTime();
        if (call == null) {
            throw new CohortException("no call (null)");
        }
        checkOpen();
        String name = call.collective().cliName();
        int n = size();
        checkLists(name, send, recv);
        if (call.op() == null) {
            throw new CohortException(name + ": no reduce op (null)");
        }
        int root = call.collective().rooted() ? call.root() : 0;
        if (call.collective().rooted() && root >= n) {
            throw new CohortException(name + ": root " + root + " outside ranks 0.." + (n - 1));
        }
        long sendCount = call.collective().sendCount(call.count(), n);
        long recvCount = call.collective().recvCount(call.count(), n);
        for (int r = 0; r < n; r++) {
            check(call, r, "send", send.get(r), sendCount, call.collective().usesSend(r, root));
            check(call, r, "recv", recv.get(r), recvCount, call.collective().usesRecv(r, root));
        }
        return sequencer.submit(call, send, recv, submitted);
    }

    /**
     * A collective whose count follows from the tensors: every rank's tensors must have the same dtype and the
     * same length (a mismatch names the rank that differs from the others).
     */
    private CompletionStage<CollectiveResult> collective(Collective c, List<Tensor> send, List<Tensor> recv,
                                                         ReduceOp op, int root) {
        long submitted = System.nanoTime();
        checkOpen();
        String name = c.cliName();
        int n = size();
        checkLists(name, send, recv);
        if (op == null) {
            throw new CohortException(name + ": no reduce op (null)");
        }
        if (c.rooted() && (root < 0 || root >= n)) {
            throw new CohortException(name + ": root " + root + " outside ranks 0.." + (n - 1));
        }
        int callRoot = c.rooted() ? root : 0;
        for (int r = 0; r < n; r++) {
            if (send.get(r) == null && c.usesSend(r, callRoot)) {
                throw new CohortException(name + ": rank " + r + " has no send tensor");
            }
            if (recv.get(r) == null && c.usesRecv(r, callRoot)) {
                throw new CohortException(name + ": rank " + r + " has no recv tensor");
            }
        }
        DType dtype = agreedDtype(name, send, recv);
        long sendCount = agreedCount(name, "send", send);
        long recvCount = agreedCount(name, "recv", recv);
        long count = switch (c) {
            case REDUCE_SCATTER -> recvCount >= 0 ? recvCount : sendCount / n;
            default -> sendCount >= 0 ? sendCount : recvCount;
        };
        if (count < 0) {
            throw new CohortException(name + ": no tensors");
        }
        if (sendCount >= 0 && sendCount != c.sendCount(count, n)) {
            throw new CohortException(name + ": send tensors have " + sendCount + " elements, " + name + " of " + count
                    + " per rank over " + n + " ranks needs " + c.sendCount(count, n));
        }
        if (recvCount >= 0 && recvCount != c.recvCount(count, n)) {
            throw new CohortException(name + ": recv tensors have " + recvCount + " elements, " + name + " of " + count
                    + " per rank over " + n + " ranks needs " + c.recvCount(count, n));
        }
        CollectiveCall call = callOf(c, dtype, op, count, callRoot);
        for (int r = 0; r < n; r++) {
            check(call, r, "send", send.get(r), c.sendCount(count, n), c.usesSend(r, callRoot));
            check(call, r, "recv", recv.get(r), c.recvCount(count, n), c.usesRecv(r, callRoot));
        }
        return sequencer.submit(call, send, recv, submitted);
    }

    private CollectiveCall callOf(Collective c, DType dtype, ReduceOp op, long count, int root) {
        CollectiveCall last = lastCall;
        if (last != null && last.collective() == c && last.dtype() == dtype && last.op() == op
                && last.count() == count && last.root() == root) {
            return last;
        }
        CollectiveCall call = new CollectiveCall(c, dtype, op, count, root);
        lastCall = call;
        return call;
    }

    private void checkLists(String name, List<Tensor> send, List<Tensor> recv) {
        int n = size();
        if (send == null || recv == null || send.size() != n || recv.size() != n) {
            throw new CohortException(name + " on a group of " + n + " ranks needs " + n + " send and " + n
                    + " recv tensors, got " + (send == null ? "none" : send.size()) + " and "
                    + (recv == null ? "none" : recv.size()));
        }
    }

    /** The dtype most tensors have; any tensor of another dtype is named. */
    private static DType agreedDtype(String name, List<Tensor> send, List<Tensor> recv) {
        DType best = null;
        int bestVotes = 0;
        for (int pass = 0; pass < 2; pass++) {
            List<Tensor> candidates = pass == 0 ? send : recv;
            for (int i = 0; i < candidates.size(); i++) {
                Tensor cand = candidates.get(i);
                if (cand == null || cand.dtype() == best) {
                    continue;
                }
                int votes = votes(send, cand.dtype()) + votes(recv, cand.dtype());
                if (votes > bestVotes) {
                    best = cand.dtype();
                    bestVotes = votes;
                }
            }
        }
        for (int r = 0; r < send.size(); r++) {
            checkDtype(name, r, "send", send.get(r), best);
            checkDtype(name, r, "recv", recv.get(r), best);
        }
        return best;
    }

    private static int votes(List<Tensor> tensors, DType dtype) {
        int v = 0;
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            if (t != null && t.dtype() == dtype) {
                v++;
            }
        }
        return v;
    }

    private static void checkDtype(String name, int rank, String role, Tensor t, DType expected) {
        if (t != null && t.dtype() != expected) {
            throw new CohortException(name + ": rank " + rank + "'s " + role + " tensor is " + t.dtype()
                    + ", the other ranks' are " + expected + ": every tensor needs the same dtype");
        }
    }

    /** The length most of {@code tensors} have (-1 if all are null); a tensor of another length is named. */
    private static long agreedCount(String name, String role, List<Tensor> tensors) {
        long best = -1;
        int bestVotes = 0;
        for (int i = 0; i < tensors.size(); i++) {
            Tensor cand = tensors.get(i);
            if (cand == null || cand.count() == best) {
                continue;
            }
            int votes = 0;
            for (int j = 0; j < tensors.size(); j++) {
                Tensor t = tensors.get(j);
                if (t != null && t.count() == cand.count()) {
                    votes++;
                }
            }
            if (votes > bestVotes) {
                best = cand.count();
                bestVotes = votes;
            }
        }
        for (int r = 0; r < tensors.size(); r++) {
            Tensor t = tensors.get(r);
            if (t != null && t.count() != best) {
                throw new CohortException(name + ": rank " + r + "'s " + role + " tensor has " + t.count()
                        + " elements, the other ranks' have " + best + ": lengths must match across ranks");
            }
        }
        return best;
    }

    private void check(CollectiveCall call, int rank, String which, Tensor t, long needed, boolean used) {
        String name = call.collective().cliName();
        if (t == null) {
            if (used) {
                throw new CohortException(name + ": rank " + rank + " has no " + which + " tensor");
            }
            return;
        }
        if (t.dtype() != call.dtype()) {
            throw new CohortException(name + ": rank " + rank + "'s " + which + " tensor is " + t.dtype()
                    + ", the call is " + call.dtype());
        }
        if (t.count() < needed) {
            throw new CohortException(name + ": rank " + rank + "'s " + which + " tensor on " + t.device().name()
                    + " has " + t.count() + " elements, needs " + needed);
        }
        Device expected = info.devices().get(rank);
        if (t.device() != expected && t.device() != memoryDevices[rank]) {
            throw new CohortException(name + ": rank " + rank + "'s " + which + " tensor lives on "
                    + t.device().name() + ", rank " + rank + " is " + expected.name());
        }
        if (t.buffer().isReleased()) {
            throw new CohortException(name + ": rank " + rank + "'s " + which + " tensor on " + expected.name()
                    + " was released to its pool");
        }
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new CohortException("group " + info.id() + " is closed");
        }
        String refusal = sequencer.refusal();
        if (refusal != null) {
            throw new CohortException(refusal);
        }
        if (cohortClosed.getAsBoolean()) {
            throw new CohortException("group " + info.id() + " is closed (its Cohort is closed)");
        }
    }

    /** What the backend does for {@code call}: the algorithm, then the backend's own description. */
    public String describe(CollectiveCall call) {
        CompletableFuture<String> reply = new CompletableFuture<>();
        coordinator.tell(new Coordinator.Describe(info.id(), call, reply));
        return Cohort.await(reply, coordinatorStopped, "describing " + call.collective().cliName(), apiTimeout);
    }

    /**
     * Closes the group: later calls are refused; collectives in flight finish (or fail within the collective
     * timeout); then the backend is closed. The devices stay with the Cohort. Nothing to do once the Cohort is
     * closed (it closed every group) or stopped.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || cohortClosed.getAsBoolean() || sequencer.refusal() != null) {
            return;
        }
        CompletableFuture<Void> reply = new CompletableFuture<>();
        coordinator.tell(new Coordinator.CloseGroup(info.id(), reply));
        try {
            Cohort.awaitClosed(reply, coordinatorStopped, "closing group " + info.id(), closeTimeout);
        } finally {
            try {
                release(barrierTensors);
            } catch (RuntimeException e) {
                // the pools went with a stopped Cohort
            }
        }
    }

    @Override
    public String toString() {
        return "CohortGroup[" + info.id() + ": " + info.devices().stream().map(Device::name).toList() + ", "
                + info.choice() + "]";
    }
}
