package io.cohort.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.DeviceBuffer;
import io.cohort.testing.FakeBackend;
import io.cohort.testing.FakeDevice;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** One DeviceActor against a probe in the coordinator's place: what it reports, and when. */
class DeviceActorTest {

    static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.load());

    @AfterAll
    static void shutdown() {
        testKit.shutdownTestKit();
    }

    @Test
    void reportsReadyThenEachStepAndAFreshStreamAfterAReset() {
        FakeDevice device = new FakeDevice(0);
        TestProbe<DeviceActor.Report> coordinator = testKit.createTestProbe();
        CompletionPoller poller = new CompletionPoller("test-completions");
        ActorRef<DeviceActor.Command> actor = testKit.spawn(DeviceActor.create(device, coordinator.getRef(), poller), "device",
                DispatcherSelector.fromConfig("cohort.device-dispatcher"));
        DeviceActor.Ready ready = coordinator.expectMessageClass(DeviceActor.Ready.class);
        assertSame(device, ready.device());

        FakeBackend backend = new FakeBackend(new GroupContext(
                Topology.uniform("one", List.of(device.name()), new Link(true, LinkKind.SHARED_MEMORY, 0, 0, 1, 1)),
                List.of(new RankContext(0, device, ready.stream(), device.pool())), ConfigFactory.empty()));
        DeviceBuffer buf = device.allocate(64);
        CollectiveCall call = CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 16);

        actor.tell(new DeviceActor.Enqueue(7, backend, 0, 1, call, buf, buf));
        DeviceActor.StepDone done = coordinator.expectMessageClass(DeviceActor.StepDone.class);
        assertEquals(7, done.collectiveId());
        assertEquals(0, done.rank());
        assertTrue(done.enqueuedNanos() > 0);

        backend.failRank = 0;
        actor.tell(new DeviceActor.Enqueue(8, backend, 0, 2, call, buf, buf));
        DeviceActor.StepFailed failed = coordinator.expectMessageClass(DeviceActor.StepFailed.class);
        assertEquals(8, failed.collectiveId());
        assertTrue(failed.cause().getMessage().contains("injected fault on rank 0"));

        actor.tell(new DeviceActor.Reset("test", Duration.ofSeconds(1)));
        DeviceActor.Ready fresh = coordinator.expectMessageClass(DeviceActor.Ready.class);
        assertNotSame(ready.stream(), fresh.stream());
        assertEquals(2, device.streamsCreated.get());
        assertEquals(1, device.streamsClosed.get());
        coordinator.expectNoMessage(Duration.ofMillis(100));

        device.stall = true; // the event never completes: no report, ever
        actor.tell(new DeviceActor.Enqueue(9, backend, 0, 3, call, buf, buf));
        coordinator.expectNoMessage(Duration.ofMillis(300));
        testKit.stop(actor);
        poller.close();
    }
}
