package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.actor.Environment;
import io.cohort.actor.Environments;
import io.cohort.backend.BackendKind;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.device.host.HostDevice;
import io.cohort.group.CollectiveFailedException;
import io.cohort.testing.FaultyDevice;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The control plane itself fails (a bug in the coordinator, injected while it rebuilds a backend): every stage
 * still completes, with the cause; every later call says the runtime is broken and why; close() returns.
 */
class ControlPlaneFailureTest {

    @Test
    void aCoordinatorThatDiesFailsEveryPendingStageWithItsCauseAndRefusesLaterCallsSayingWhy() throws Exception {
        Config config = ConfigFactory.parseString("cohort.collective.timeout = 2s").withFallback(ConfigFactory.load());
        Environment base = Environments.defaults(config.getConfig("cohort"));
        AtomicInteger resolves = new AtomicInteger();
        Environment env = base.withBackends((requested, group) -> {
            if (resolves.incrementAndGet() == 2) {
                throw new AssertionError("injected control-plane bug");
            }
            return base.backends().resolve(requested, group);
        });
        HostDevice.Options options = HostDevice.Options.defaults().withTotalMemory(64L << 20)
                .withWaitTimeout(Duration.ofSeconds(4));
        List<FaultyDevice> devices = IntStream.range(0, 2).mapToObj(i -> new FaultyDevice(HostDevice.open(i, options))).toList();
        Cohort cohort = Cohort.start(config, env);
        try {
            CohortGroup group = cohort.group(devices, BackendKind.P2P);
            List<Tensor> t = group.allocate(DType.F32, 256);
            devices.get(1).failNextOp();
            CompletableFuture<?> failed = group.allReduce(t, ReduceOp.SUM).toCompletableFuture();
            ExecutionException first = assertThrows(ExecutionException.class, () -> failed.get(5, TimeUnit.SECONDS));
            assertInstanceOf(CollectiveFailedException.class, first.getCause());
            // parked while the group recovers; the recovery kills the coordinator
            CompletableFuture<?> parked = group.allReduce(t, ReduceOp.SUM).toCompletableFuture();
            ExecutionException e = assertThrows(ExecutionException.class, () -> parked.get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("the Cohort coordinator stopped after an internal error: "
                    + "java.lang.AssertionError: injected control-plane bug"), e.getCause().getMessage());
            CohortException later = assertThrows(CohortException.class, () -> group.allReduce(t, ReduceOp.SUM));
            assertTrue(later.getMessage().contains("injected control-plane bug"), later.getMessage());
            CohortException newGroup = assertThrows(CohortException.class, () -> cohort.group(devices, BackendKind.P2P));
            assertTrue(newGroup.getMessage().contains("coordinator has stopped"), newGroup.getMessage());
            long start = System.nanoTime();
            group.close();
            cohort.close();
            long ms = Duration.ofNanos(System.nanoTime() - start).toMillis();
            assertTrue(ms < 5_000, "close took " + ms + " ms");
        } finally {
            cohort.close();
            devices.forEach(FaultyDevice::release);
            devices.forEach(FaultyDevice::close);
        }
        assertEquals(2, resolves.get());
    }
}
