package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.device.Device;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Four application threads share one group and call every collective at random, each on its own tensors,
 * several in flight at a time; every result is checked against the reference.
 */
class ConcurrentCallersTest {

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"P2P", "NATIVE"})
    void fourThreadsHammerOneGroupWithEveryCollective(BackendKind kind) throws Exception {
        try (Cohort cohort = Cohort.start(ConfigFactory.parseString("cohort.collective.timeout = 20s")
                .withFallback(ConfigFactory.load()))) {
            List<Device> devices = cohort.devices("host:4");
            CohortGroup group = cohort.group(devices, kind);
            AtomicInteger checked = new AtomicInteger();
            ExecutorService threads = Executors.newFixedThreadPool(4);
            try {
                List<CompletableFuture<Void>> callers = java.util.stream.IntStream.range(0, 4)
                        .mapToObj(t -> CompletableFuture.runAsync(() -> {
                            SplittableRandom random = new SplittableRandom(42 + t);
                            for (int i = 0; i < 40; i++) {
                                // up to three in flight per thread, then wait for them in order
                                CollectiveCheck[] window = new CollectiveCheck[1 + random.nextInt(3)];
                                for (int w = 0; w < window.length; w++) {
                                    window[w] = new CollectiveCheck(group, random);
                                }
                                for (CollectiveCheck c : window) {
                                    try {
                                        c.stage.get(30, TimeUnit.SECONDS);
                                        c.verify();
                                        checked.incrementAndGet();
                                    } catch (Exception e) {
                                        throw new AssertionError(c + " failed", e);
                                    } finally {
                                        c.release();
                                    }
                                }
                            }
                        }, threads)).toList();
                CompletableFuture.allOf(callers.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            } finally {
                threads.shutdownNow();
            }
            assertEquals(checked.get(), cohort.metrics().stream().mapToLong(m -> m.count()).sum());
            group.close();
        }
    }
}
