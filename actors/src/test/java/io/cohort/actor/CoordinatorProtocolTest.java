package io.cohort.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendChoice;
import io.cohort.group.CollectiveFailedException;
import io.cohort.group.CollectiveResult;
import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.metrics.CollectiveMetrics;
import io.cohort.testing.FakeBackend;
import io.cohort.testing.FakeDevice;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The coordinator's protocol with test-double devices and backends: sequencing, completion, failures, timeouts. */
class CoordinatorProtocolTest {

    static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseString(
            "cohort.collective.timeout = 500ms").withFallback(ConfigFactory.load()));

    static final BackendProvider PROVIDER = new BackendProvider() {
        @Override
        public BackendKind kind() {
            return BackendKind.P2P;
        }

        @Override
        public int priority() {
            return 0;
        }

        @Override
        public java.util.Optional<String> unavailableReason(io.cohort.backend.GroupContext group) {
            return java.util.Optional.empty();
        }

        @Override
        public io.cohort.backend.CollectiveBackend create(io.cohort.backend.GroupContext group) {
            return new FakeBackend(group);
        }
    };

    final List<FakeBackend> backends = new CopyOnWriteArrayList<>();
    List<FakeDevice> devices;
    ActorRef<Coordinator.Command> coordinator;

    @AfterAll
    static void shutdown() {
        testKit.shutdownTestKit();
    }

    @BeforeEach
    void setUp() {
        devices = IntStream.range(0, 4).mapToObj(FakeDevice::new).toList();
        Environment env = new Environment(testKit.system().settings().config().getConfig("cohort"),
                d -> ((FakeDevice) d).pool(),
                ds -> Topology.uniform("fake", ds.stream().map(Device::name).toList(),
                        new Link(true, LinkKind.SHARED_MEMORY, 0, 0, Double.NaN, Double.NaN)),
                (requested, group) -> {
                    FakeBackend b = new FakeBackend(group);
                    backends.add(b);
                    return new BackendResolver.Resolution(b, new BackendChoice(requested, BackendKind.P2P, PROVIDER, "fake"),
                            call -> "ring");
                },
                new CollectiveMetrics());
        coordinator = testKit.spawn(Coordinator.create(env));
    }

    GroupInfo createGroup() throws Exception {
        CompletableFuture<GroupInfo> reply = new CompletableFuture<>();
        coordinator.tell(new Coordinator.CreateGroup(List.copyOf(devices), BackendKind.AUTO, reply));
        return reply.get(5, TimeUnit.SECONDS);
    }

    CompletableFuture<CollectiveResult> submit(GroupInfo g) {
        DeviceBuffer[] bufs = devices.stream().map(d -> d.allocate(64)).toArray(DeviceBuffer[]::new);
        CompletableFuture<CollectiveResult> reply = new CompletableFuture<>();
        coordinator.tell(new Coordinator.Submit(g.id(), CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 16), bufs, bufs,
                System.nanoTime(), reply));
        return reply;
    }

    @Test
    void groupGetsBackendChoiceAndEveryRankItsStepInSequenceOrderOnItsOwnThread() throws Exception {
        GroupInfo g = createGroup();
        assertEquals(new BackendChoice(BackendKind.AUTO, BackendKind.P2P, PROVIDER, "fake"), g.choice());
        List<CompletableFuture<CollectiveResult>> results = IntStream.range(0, 5).mapToObj(i -> submit(g)).toList();
        for (int i = 0; i < 5; i++) {
            CollectiveResult r = results.get(i).get(5, TimeUnit.SECONDS);
            assertEquals(i + 1, r.seq());
            assertEquals("ring", r.algorithm());
            assertEquals(64, r.bytes());
        }
        FakeBackend b = backends.getFirst();
        for (int rank = 0; rank < 4; rank++) {
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L), b.seqsOf(rank), "rank " + rank);
        }
        // enqueued by the submitting thread itself (here the coordinator's, for Submit), every rank of a call in
        // one go; an actor may run on another dispatcher thread for its next message, so only per call
        for (long seq = 1; seq <= 5; seq++) {
            long s = seq;
            List<String> threads = b.enqueued.stream().filter(e -> e.seq() == s).map(FakeBackend.Enqueued::thread)
                    .distinct().toList();
            assertEquals(1, threads.size(), "seq " + seq + ": " + threads);
        }
    }

    @Test
    void theCallersThreadEnqueuesThroughTheSequencer() throws Exception {
        GroupInfo g = createGroup();
        DeviceBuffer[] bufs = devices.stream().map(d -> d.allocate(64)).toArray(DeviceBuffer[]::new);
        CollectiveResult r = g.sequencer().submit(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 16), bufs, bufs,
                System.nanoTime()).get(5, TimeUnit.SECONDS);
        assertEquals(1, r.seq());
        String me = Thread.currentThread().getName();
        assertTrue(backends.getFirst().enqueued.stream().allMatch(e -> e.thread().equals(me)));
    }

    @Test
    void exceptionOnOneRankFailsTheCollectiveNamingTheDeviceAndTheGroupRecovers() throws Exception {
        GroupInfo g = createGroup();
        submit(g).get(5, TimeUnit.SECONDS);
        backends.getFirst().failRank = 2;
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> submit(g).get(5, TimeUnit.SECONDS));
        CollectiveFailedException f = assertInstanceOf(CollectiveFailedException.class, e.getCause());
        assertEquals(List.of("fake:2"), f.devices());
        assertTrue(f.getMessage().contains("rank 2 on fake:2 threw: injected fault on rank 2"), f.getMessage());
        // next collective: fresh streams on every device, a fresh backend, sequence numbers from 1
        CollectiveResult after = submit(g).get(5, TimeUnit.SECONDS);
        assertEquals(1, after.seq());
        assertEquals(2, backends.size());
        assertTrue(backends.getFirst().closed);
        devices.forEach(d -> assertEquals(2, d.streamsCreated.get(), d.name()));
    }

    @Test
    void stalledDeviceTimesOutNamingItAndTheGroupRecovers() throws Exception {
        GroupInfo g = createGroup();
        devices.get(1).stall = true;
        long start = System.nanoTime();
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> submit(g).get(5, TimeUnit.SECONDS));
        CollectiveFailedException f = assertInstanceOf(CollectiveFailedException.class, e.getCause());
        assertEquals(List.of("fake:1"), f.devices());
        assertTrue(f.getMessage().contains("timed out after 500 ms"), f.getMessage());
        assertTrue(f.getMessage().contains("rank 1 (fake:1) did not complete"), f.getMessage());
        assertTrue(Duration.ofNanos(System.nanoTime() - start).toMillis() >= 400);
        devices.get(1).stall = false;
        assertEquals(1, submit(g).get(5, TimeUnit.SECONDS).seq());
    }

    @Test
    void deviceActorThatCrashesIsRestartedByItsSupervisorAndTheGroupRecovers() throws Exception {
        GroupInfo g = createGroup();
        submit(g).get(5, TimeUnit.SECONDS);
        devices.get(3).failNextStreamCreation = true; // the reset after the next failure crashes fake:3's actor
        backends.getFirst().failRank = 0;
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> submit(g).get(5, TimeUnit.SECONDS));
        assertEquals(List.of("fake:0"), assertInstanceOf(CollectiveFailedException.class, e.getCause()).devices());
        CollectiveResult after = submit(g).get(5, TimeUnit.SECONDS);
        assertEquals(1, after.seq());
        // fake:3: its first stream, none from the failed reset, one from the restarted actor
        assertEquals(2, devices.get(3).streamsCreated.get());
        assertEquals(2, backends.size());
    }

    @Test
    void anEnqueueThatDoesNotReturnFailsItsCollectiveAtTheDeadlineAndOtherCallersGiveUpOnTheLock() throws Exception {
        GroupInfo g = createGroup();
        FakeBackend b = backends.getFirst();
        b.blockRank = 2; // the next enqueue hangs in the backend (a driver call that does not return)
        DeviceBuffer[] bufs = devices.stream().map(d -> d.allocate(64)).toArray(DeviceBuffer[]::new);
        CollectiveCall call = CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 16);
        CompletableFuture<CompletableFuture<CollectiveResult>> stuck = CompletableFuture.supplyAsync(
                () -> g.sequencer().submit(call, bufs, bufs, System.nanoTime()));
        Thread.sleep(100); // let it take the locks
        // the stuck caller holds the devices' enqueue locks: the next caller gives up after the timeout, saying why
        io.cohort.core.CohortException locked = org.junit.jupiter.api.Assertions.assertThrows(
                io.cohort.core.CohortException.class, () -> g.sequencer().submit(call, bufs, bufs, System.nanoTime()));
        assertTrue(locked.getMessage().contains("enqueue lock was held for more than 500 ms"), locked.getMessage());
        b.gate.countDown();
        // when the stuck call returns, its stage has already failed at its deadline
        ExecutionException timedOut = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> stuck.get(5, TimeUnit.SECONDS).get(5, TimeUnit.SECONDS));
        CollectiveFailedException f = assertInstanceOf(CollectiveFailedException.class, timedOut.getCause());
        assertTrue(f.getMessage().contains("timed out after 500 ms"), f.getMessage());
        assertEquals(1, submit(g).get(5, TimeUnit.SECONDS).seq());
    }

    @Test
    void unknownGroupAndEmptyGroupAreRefused() {
        CompletableFuture<CollectiveResult> reply = new CompletableFuture<>();
        coordinator.tell(new Coordinator.Submit(99, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1),
                new DeviceBuffer[0], new DeviceBuffer[0], 0, reply));
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> reply.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("group 99 is closed"));
        CompletableFuture<GroupInfo> empty = new CompletableFuture<>();
        coordinator.tell(new Coordinator.CreateGroup(List.of(), BackendKind.AUTO, empty));
        e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, () -> empty.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("at least one device"));
    }

    @Test
    void shutdownClosesBackendsAndStreams() throws Exception {
        GroupInfo g = createGroup();
        submit(g).get(5, TimeUnit.SECONDS);
        CompletableFuture<Void> done = new CompletableFuture<>();
        coordinator.tell(new Coordinator.Shutdown(done));
        done.get(10, TimeUnit.SECONDS);
        assertTrue(backends.getFirst().closed);
        devices.forEach(d -> assertEquals(d.streamsCreated.get(), d.streamsClosed.get(), d.name()));
    }
}
