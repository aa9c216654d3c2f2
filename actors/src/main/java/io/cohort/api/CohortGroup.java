package io.cohort.api;

import io.cohort.group.CollectiveFailedException;
import io.cohort.group.CollectiveResult;
import io.cohort.actor.Coordinator;
import io.cohort.actor.GroupInfo;
import io.cohort.backend.BackendChoice;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.Tensor;
import io.cohort.memory.MemoryPool;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * A group of devices that run collectives together; rank r is {@code devices().get(r)}. Every collective
 * takes one tensor per rank (NCCL's conventions, see {@link Collective}) and returns at once; the stage
 * completes when every rank's device has finished, or fails with a {@link CollectiveFailedException}
 * naming the devices that threw or timed out. Calls on one group run in call order.
 */
public final class CohortGroup implements AutoCloseable {

    private final ActorRef<Coordinator.Command> coordinator;
    private final java.util.function.BooleanSupplier cohortClosed;
    private final GroupInfo info;
    private final Duration apiTimeout;
    private final List<Tensor> barrierTensors;
    private final AtomicBoolean closed = new AtomicBoolean();

    CohortGroup(ActorRef<Coordinator.Command> coordinator, java.util.function.BooleanSupplier cohortClosed,
                GroupInfo info, Duration apiTimeout) {
        this.coordinator = coordinator;
        this.cohortClosed = cohortClosed;
        this.info = info;
        this.apiTimeout = apiTimeout;
        this.barrierTensors = allocate(DType.F32, 1);
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

    /** One tensor of {@code count} elements per rank, from each device's pool; give them back with {@link #release}. */
    public List<Tensor> allocate(DType dtype, long count) {
        List<Tensor> tensors = new ArrayList<>(size());
        try {
            for (MemoryPool pool : info.pools()) {
                tensors.add(new Tensor(pool.allocate(Math.max(1, count * dtype.bytes())), dtype, count));
            }
        } catch (RuntimeException e) {
            release(tensors);
            throw e;
        }
        return List.copyOf(tensors);
    }

    /** Returns tensors from {@link #allocate} to the pools. */
    public void release(List<Tensor> tensors) {
        for (int r = 0; r < tensors.size(); r++) {
            info.pools().get(r).release(tensors.get(r).buffer());
        }
    }

    public CompletionStage<CollectiveResult> allReduce(List<Tensor> send, List<Tensor> recv, ReduceOp op) {
        return run(new CollectiveCall(Collective.ALL_REDUCE, dtypeOf(send), op, recv.getFirst().count(), 0), send, recv);
    }

    /** In place: every tensor becomes op over all of them. */
    public CompletionStage<CollectiveResult> allReduce(List<Tensor> tensors, ReduceOp op) {
        return allReduce(tensors, tensors, op);
    }

    /** recv[r] = send[root] on every rank (send of other ranks is not read). */
    public CompletionStage<CollectiveResult> broadcast(List<Tensor> send, List<Tensor> recv, int root) {
        return run(new CollectiveCall(Collective.BROADCAST, dtypeOf(send), ReduceOp.SUM, recv.getFirst().count(), root),
                send, recv);
    }

    /** In place: every tensor becomes the root's. */
    public CompletionStage<CollectiveResult> broadcast(List<Tensor> tensors, int root) {
        return broadcast(tensors, tensors, root);
    }

    /** recv[root] = op over all send (recv of other ranks is not written). */
    public CompletionStage<CollectiveResult> reduce(List<Tensor> send, List<Tensor> recv, ReduceOp op, int root) {
        return run(new CollectiveCall(Collective.REDUCE, dtypeOf(send), op, recv.getFirst().count(), root), send, recv);
    }

    /** send[r] holds size() blocks of recv's length; recv[r] = op over block r of every send. */
    public CompletionStage<CollectiveResult> reduceScatter(List<Tensor> send, List<Tensor> recv, ReduceOp op) {
        return run(new CollectiveCall(Collective.REDUCE_SCATTER, dtypeOf(send), op, recv.getFirst().count(), 0),
                send, recv);
    }

    /** recv[r] holds every rank's send, in rank order. */
    public CompletionStage<CollectiveResult> allGather(List<Tensor> send, List<Tensor> recv) {
        return run(new CollectiveCall(Collective.ALL_GATHER, dtypeOf(send), ReduceOp.SUM, send.getFirst().count(), 0),
                send, recv);
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
        int n = size();
        if (closed.get() || cohortClosed.getAsBoolean()) {
            throw new CohortException("group " + info.id() + " is closed");
        }
        if (send.size() != n || recv.size() != n) {
            throw new CohortException(call.collective().cliName() + " on a group of " + n + " ranks needs " + n
                    + " send and " + n + " recv tensors, got " + send.size() + " and " + recv.size());
        }
        if (call.collective().rooted() && call.root() >= n) {
            throw new CohortException("root " + call.root() + " outside ranks 0.." + (n - 1));
        }
        long sendCount = call.collective().sendCount(call.count(), n);
        long recvCount = call.collective().recvCount(call.count(), n);
        DeviceBuffer[] sendBuffers = new DeviceBuffer[n];
        DeviceBuffer[] recvBuffers = new DeviceBuffer[n];
        for (int r = 0; r < n; r++) {
            sendBuffers[r] = check(call, r, "send", send.get(r), sendCount);
            recvBuffers[r] = check(call, r, "recv", recv.get(r), recvCount);
        }
        CompletableFuture<CollectiveResult> reply = new CompletableFuture<>();
        coordinator.tell(new Coordinator.Submit(info.id(), call, sendBuffers, recvBuffers, submitted, reply));
        return reply;
    }

    /** What the backend does for {@code call}: the algorithm, then the backend's own description. */
    public String describe(CollectiveCall call) {
        CompletableFuture<String> reply = new CompletableFuture<>();
        coordinator.tell(new Coordinator.Describe(info.id(), call, reply));
        return Cohort.await(reply, "describing " + call.collective().cliName(), apiTimeout);
    }

    private DeviceBuffer check(CollectiveCall call, int rank, String which, Tensor t, long needed) {
        if (t.dtype() != call.dtype()) {
            throw new CohortException(call.collective().cliName() + ": rank " + rank + "'s " + which + " tensor is "
                    + t.dtype() + ", the call is " + call.dtype());
        }
        if (t.count() < needed) {
            throw new CohortException(call.collective().cliName() + ": rank " + rank + "'s " + which + " tensor on "
                    + t.device().name() + " has " + t.count() + " elements, needs " + needed);
        }
        Device expected = info.devices().get(rank);
        if (t.device() != expected && !t.buffer().isHostAccessible()) {
            throw new CohortException(call.collective().cliName() + ": rank " + rank + "'s " + which
                    + " tensor lives on " + t.device().name() + ", rank " + rank + " is " + expected.name());
        }
        return t.buffer();
    }

    private static DType dtypeOf(List<Tensor> tensors) {
        if (tensors.isEmpty()) {
            throw new CohortException("no tensors");
        }
        return tensors.getFirst().dtype();
    }

    /**
     * Closes the group once its collectives in flight are done; the devices stay with the Cohort. Nothing to
     * do once the Cohort is closed (it closed every group).
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || cohortClosed.getAsBoolean()) {
            return;
        }
        CompletableFuture<Void> reply = new CompletableFuture<>();
        coordinator.tell(new Coordinator.CloseGroup(info.id(), reply));
        try {
            Cohort.await(reply, "closing group " + info.id(), apiTimeout);
        } finally {
            release(barrierTensors);
        }
    }

    @Override
    public String toString() {
        return "CohortGroup[" + info.id() + ": " + info.devices().stream().map(Device::name).toList() + ", "
                + info.choice() + "]";
    }
}
