package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.device.Device;
import io.cohort.device.Tensor;
import io.cohort.memory.CarvingMemoryPool;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.Test;

/**
 * A bounded random soak of the API (issue 19): four threads, several groups over overlapping devices, random
 * allocate/release, every collective, close and reopen. Every stage must complete within its deadline (no
 * hang); a success must match the reference (no wrong result); a failure may only say the group was closed
 * or its work aborted by that; at the end no pool byte is leaked.
 */
class RandomizedApiTest {

    static final Duration TIMEOUT = Duration.ofSeconds(5);
    static final int[][] GROUPS = {{0, 1, 2, 3}, {0, 1}, {2, 3}, {1, 2}};

    @Test
    void fourThreadsOnOverlappingGroupsWithCloseAndReopenNeverHangLeakOrComputeWrong() throws Exception {
        try (Cohort cohort = Cohort.start(ConfigFactory.parseString("cohort.collective.timeout = "
                + TIMEOUT.toMillis() + "ms").withFallback(ConfigFactory.load()))) {
            List<Device> devices = cohort.devices("host:4");
            AtomicReferenceArray<CohortGroup> groups = new AtomicReferenceArray<>(GROUPS.length);
            for (int g = 0; g < GROUPS.length; g++) {
                groups.set(g, open(cohort, devices, g));
            }
            AtomicInteger verified = new AtomicInteger();
            AtomicInteger refused = new AtomicInteger();
            AtomicInteger reopened = new AtomicInteger();
            ExecutorService threads = Executors.newFixedThreadPool(4);
            try {
                List<CompletableFuture<Void>> work = java.util.stream.IntStream.range(0, 4).mapToObj(t ->
                        CompletableFuture.runAsync(() -> {
                            SplittableRandom random = new SplittableRandom(1234 + t);
                            for (int step = 0; step < 60; step++) {
                                int g = random.nextInt(GROUPS.length);
                                double what = random.nextDouble();
                                CohortGroup group = groups.get(g);
                                if (what < 0.08) {
                                    CohortGroup fresh = open(cohort, devices, g);
                                    groups.getAndSet(g, fresh).close(); // work in flight on it finishes or fails "closed"
                                    reopened.incrementAndGet();
                                } else if (what < 0.2) {
                                    try {
                                        List<Tensor> t1 = group.allocate(DType.F32, random.nextInt(10_000));
                                        group.release(t1);
                                    } catch (CohortException e) {
                                        expectClosed(e);
                                        refused.incrementAndGet();
                                    }
                                } else {
                                    runOne(group, random, verified, refused);
                                }
                            }
                        }, threads)).toList();
                CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)).get(240, TimeUnit.SECONDS);
            } finally {
                threads.shutdownNow();
            }
            for (int g = 0; g < GROUPS.length; g++) {
                groups.get(g).close();
            }
            assertTrue(verified.get() > 50, "verified " + verified.get() + ", refused " + refused.get());
            // nothing leaked: with one group left open, each pool holds only that group's barrier block
            CohortGroup checker = cohort.group(devices, BackendKind.NATIVE);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos(); // backends close off-thread
            for (int r = 0; r < devices.size(); r++) {
                while (checker.poolStats(r).inUse() != CarvingMemoryPool.ALIGNMENT && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertEquals(CarvingMemoryPool.ALIGNMENT, checker.poolStats(r).inUse(), "pool of " + devices.get(r).name());
            }
            System.out.printf("randomized API: %d verified, %d refused (closed), %d reopened%n", verified.get(),
                    refused.get(), reopened.get());
            checker.close();
        }
    }

    static CohortGroup open(Cohort cohort, List<Device> devices, int g) {
        List<Device> ds = java.util.Arrays.stream(GROUPS[g]).mapToObj(devices::get).toList();
        return cohort.group(ds, g % 2 == 0 ? BackendKind.P2P : BackendKind.NATIVE);
    }

    static void runOne(CohortGroup group, SplittableRandom random, AtomicInteger verified, AtomicInteger refused) {
        CollectiveCheck c;
        try {
            c = new CollectiveCheck(group, random);
        } catch (CohortException e) {
            expectClosed(e);
            refused.incrementAndGet();
            return;
        }
        try {
            c.stage.get(TIMEOUT.toMillis() + 5_000, TimeUnit.MILLISECONDS);
            c.verify();
            verified.incrementAndGet();
        } catch (TimeoutException e) {
            throw new AssertionError(c + ": did not complete within its deadline", e);
        } catch (ExecutionException e) {
            expectClosed(e.getCause());
            refused.incrementAndGet();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            c.release();
        }
    }

    /** The only failure a careless caller may see here: its group was closed under it. */
    static void expectClosed(Throwable e) {
        String m = String.valueOf(e.getMessage());
        if (!m.contains("closed")) {
            throw new AssertionError("unexpected failure: " + m, e);
        }
    }
}
