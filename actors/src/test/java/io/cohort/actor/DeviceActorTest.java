package io.cohort.actor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.typesafe.config.ConfigFactory;
import io.cohort.testing.FakeDevice;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** One DeviceActor against a probe in the coordinator's place: what it reports about its stream, and when. */
class DeviceActorTest {

    static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.load());

    @AfterAll
    static void shutdown() {
        testKit.shutdownTestKit();
    }

    @Test
    void reportsReadyThenAFreshStreamAfterAResetAndClosesItsStreamWhenStopped() {
        FakeDevice device = new FakeDevice(0);
        TestProbe<DeviceActor.Report> coordinator = testKit.createTestProbe();
        ActorRef<DeviceActor.Command> actor = testKit.spawn(DeviceActor.create(device, coordinator.getRef()), "device",
                DispatcherSelector.fromConfig("cohort.device-dispatcher"));
        DeviceActor.Ready ready = coordinator.expectMessageClass(DeviceActor.Ready.class);
        assertSame(device, ready.device());

        actor.tell(new DeviceActor.Reset("test", Duration.ofSeconds(1)));
        DeviceActor.Ready fresh = coordinator.expectMessageClass(DeviceActor.Ready.class);
        assertNotSame(ready.stream(), fresh.stream());
        assertEquals(2, device.streamsCreated.get());
        assertEquals(1, device.streamsClosed.get());
        coordinator.expectNoMessage(Duration.ofMillis(100));

        device.failNextStreamCreation = true; // the next reset throws: reported, then the supervisor restarts it
        actor.tell(new DeviceActor.Reset("test", Duration.ofSeconds(1)));
        coordinator.expectMessageClass(DeviceActor.Crashed.class);
        DeviceActor.Ready restarted = coordinator.expectMessageClass(DeviceActor.Ready.class);
        assertNotSame(fresh.stream(), restarted.stream());

        testKit.stop(actor);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (device.streamsClosed.get() < device.streamsCreated.get() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(device.streamsCreated.get(), device.streamsClosed.get(), "every stream closed");
    }
}
