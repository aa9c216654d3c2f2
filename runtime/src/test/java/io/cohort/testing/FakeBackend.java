package io.cohort.testing;

import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceException;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/** A backend that records what each rank enqueued (rank, seq) and throws on a chosen rank when told to. */
public final class FakeBackend implements CollectiveBackend {

    public record Enqueued(int rank, long seq, CollectiveCall call, String thread) {
    }

    public final GroupContext group;
    public final ConcurrentLinkedQueue<Enqueued> enqueued = new ConcurrentLinkedQueue<>();
    public volatile int failRank = -1;
    /** Rank whose next enqueue blocks until {@link #gate} opens (a device actor stuck in a driver call). */
    public volatile int blockRank = -1;
    public final java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    public volatile boolean closed;

    public FakeBackend(GroupContext group) {
        this.group = group;
    }

    @Override
    public BackendKind kind() {
        return BackendKind.P2P;
    }

    @Override
    public int ranks() {
        return group.ranks().size();
    }

    @Override
    public void enqueue(int rank, long seq, CollectiveCall call, DeviceBuffer send, DeviceBuffer recv) {
        if (rank == failRank) {
            failRank = -1;
            throw new DeviceException("injected fault on rank " + rank);
        }
        if (rank == blockRank) {
            blockRank = -1;
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        enqueued.add(new Enqueued(rank, seq, call, Thread.currentThread().getName()));
    }

    public List<Long> seqsOf(int rank) {
        return enqueued.stream().filter(e -> e.rank() == rank).map(Enqueued::seq).toList();
    }

    @Override
    public String describe(CollectiveCall call) {
        return "fake " + call.collective().cliName();
    }

    @Override
    public void close() {
        closed = true;
    }
}
