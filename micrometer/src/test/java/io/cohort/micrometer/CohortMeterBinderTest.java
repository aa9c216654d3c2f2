package io.cohort.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.metrics.CollectiveMetrics;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CohortMeterBinderTest {

    @Test
    void everySeriesOldAndNewHasItsMeters() {
        CollectiveMetrics metrics = new CollectiveMetrics();
        metrics.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 8192, 2_000, 10_000);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new CohortMeterBinder(metrics).bindTo(registry);
        metrics.recordCompleted(Collective.ALL_REDUCE, BackendKind.P2P, "ring", 8192, 4_000, 30_000);
        metrics.recordFailed(Collective.BROADCAST, BackendKind.NATIVE, "binary-tree", 1 << 20);

        FunctionTimer timer = registry.get("cohort.collective").tags("collective", "all-reduce", "backend", "p2p",
                "algorithm", "ring", "size", "8K").functionTimer();
        assertEquals(2, timer.count());
        assertEquals(40_000, timer.totalTime(TimeUnit.NANOSECONDS), 1e-6);
        assertEquals(16384, registry.get("cohort.collective.bytes").tags("size", "8K").functionCounter().count());
        double p99 = registry.get("cohort.collective.latency").tags("size", "8K", "quantile", "0.99").timeGauge()
                .value(TimeUnit.NANOSECONDS);
        assertEquals(30_000, p99, 30_000 * 0.01);
        assertEquals(1, registry.get("cohort.collective.failures").tags("collective", "broadcast", "size", "1M")
                .functionCounter().count());
    }

    @Test
    void aHostApplicationSeesTheMetersOfItsCollectives() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Cohort cohort = Cohort.start(ConfigFactory.load())) {
            new CohortMeterBinder(cohort).bindTo(registry);
            CohortGroup group = cohort.group(cohort.devices("host:2"), BackendKind.NATIVE);
            List<Tensor> t = group.allocate(DType.F32, 1024);
            for (int i = 0; i < 3; i++) {
                group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join();
            }
            FunctionTimer timer = registry.get("cohort.collective").tags("collective", "all-reduce", "backend", "native",
                    "size", "4K").functionTimer();
            assertEquals(3, timer.count());
            assertTrue(timer.totalTime(TimeUnit.NANOSECONDS) > 0);
        }
    }
}
