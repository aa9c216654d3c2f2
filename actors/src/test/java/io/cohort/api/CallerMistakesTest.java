package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.Tensor;
import io.cohort.group.CollectiveResult;
import io.cohort.testing.RandomData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What a careless caller does (issue 19), each refused at once with one clear message, or survived. */
class CallerMistakesTest {

    Cohort cohort;
    List<Device> devices;
    CohortGroup group;

    @BeforeEach
    void start() {
        cohort = Cohort.start(ConfigFactory.parseString("cohort.collective.timeout = 5s").withFallback(ConfigFactory.load()));
        devices = cohort.devices("host:4");
        group = cohort.group(devices, BackendKind.AUTO);
    }

    @AfterEach
    void stop() {
        group.close();
        cohort.close(); // never throws, never waits out a timeout
    }

    @Test
    void closingAGroupWithACollectiveInFlightLetsItFinishAndLeavesTheCohortWorking() throws Exception {
        for (int i = 0; i < 10; i++) {
            CompletableFuture<CollectiveResult> f;
            List<Tensor> t;
            try (CohortGroup g = cohort.group(devices, BackendKind.AUTO)) {
                t = g.allocate(DType.F32, 2048);
                fill(t, 1);
                f = g.allReduce(t, ReduceOp.SUM).toCompletableFuture();
            }
            assertEquals(1, f.get(10, TimeUnit.SECONDS).seq(), "finished before the group closed");
            assertAll(t, 4f);
            group.release(t); // the pools outlive the group
        }
        // 4 MiB, up to 50 in flight, then close: each finishes or fails saying closed; nothing else breaks
        for (int inFlight : new int[] {1, 7, 50}) {
            List<CompletableFuture<CollectiveResult>> fs = new ArrayList<>();
            CohortGroup g = cohort.group(devices, BackendKind.AUTO);
            List<Tensor> t = g.allocate(DType.F32, 1 << 20);
            for (int i = 0; i < inFlight; i++) {
                fs.add(g.allReduce(t, ReduceOp.SUM).toCompletableFuture());
            }
            g.close();
            for (CompletableFuture<CollectiveResult> f : fs) {
                try {
                    f.get(10, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    assertTrue(e.getCause().getMessage().contains("closed"), e.getCause().getMessage());
                }
            }
            CohortException closed = assertThrows(CohortException.class, () -> g.allReduce(t, ReduceOp.SUM));
            assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
            g.release(t);
        }
        assertSumWorks(group);
    }

    @Test
    void allocationMistakesAreRefusedWithoutTakingPoolMemory() {
        long before = group.poolStats(0).inUse();
        for (int i = 0; i < 200_000; i++) { // used to leak 256 B per call and exhaust a 32 MiB pool at 131,040
            assertThrows(CohortException.class, () -> group.allocate(DType.F32, -1));
        }
        CohortException negative = assertThrows(CohortException.class, () -> group.allocate(DType.F32, -1));
        assertEquals("allocate: negative element count -1", negative.getMessage());
        CohortException overflow = assertThrows(CohortException.class, () -> group.allocate(DType.F32, (1L << 62) + 16));
        assertTrue(overflow.getMessage().contains("overflows"), overflow.getMessage());
        assertEquals(before, group.poolStats(0).inUse());
        CohortGroup other = cohort.group(devices.subList(0, 2), BackendKind.AUTO);
        other.close();
        CohortException closed = assertThrows(CohortException.class, () -> other.allocate(DType.F32, 16));
        assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
    }

    @Test
    void tensorsThatDisagreeAreRefusedNamingTheRankAtFault() {
        List<Tensor> t = group.allocate(DType.F32, 1024);
        List<Tensor> shorter = group.allocate(DType.F32, 512);
        List<Tensor> f16 = group.allocate(DType.F16, 1024);
        try {
            // rank 0 shorter than the others: was a silent partial result
            List<Tensor> mixed = List.of(shorter.get(0), t.get(1), t.get(2), t.get(3));
            CohortException e = assertThrows(CohortException.class, () -> group.allReduce(mixed, ReduceOp.SUM));
            assertTrue(e.getMessage().contains("rank 0's send tensor has 512 elements, the other ranks' have 1024"),
                    e.getMessage());
            // a dtype mismatch on rank 0 names rank 0 (it used to blame rank 1)
            List<Tensor> wrongType = List.of(f16.get(0), t.get(1), t.get(2), t.get(3));
            e = assertThrows(CohortException.class, () -> group.allReduce(wrongType, ReduceOp.SUM));
            assertTrue(e.getMessage().contains("rank 0's send tensor is F16, the other ranks' are F32"), e.getMessage());
            // no op
            e = assertThrows(CohortException.class, () -> group.allReduce(t, null));
            assertEquals("all-reduce: no reduce op (null)", e.getMessage());
            // roots outside the group
            e = assertThrows(CohortException.class, () -> group.broadcast(t, 4));
            assertTrue(e.getMessage().contains("root 4 outside ranks 0..3"), e.getMessage());
            e = assertThrows(CohortException.class, () -> group.reduce(t, t, ReduceOp.SUM, -1));
            assertTrue(e.getMessage().contains("root -1 outside ranks 0..3"), e.getMessage());
        } finally {
            group.release(t);
            group.release(shorter);
            group.release(f16);
        }
    }

    @Test
    void tensorsOfOtherDevicesOrAlreadyReleasedAreRefused() {
        CohortGroup pair = cohort.group(devices.subList(2, 4), BackendKind.AUTO);
        List<Tensor> theirs = pair.allocate(DType.F32, 64);
        List<Tensor> mine = group.allocate(DType.F32, 64);
        try {
            // host memory is reachable from every host device, but the docs say it is refused: it is
            List<Tensor> swapped = List.of(theirs.get(0), theirs.get(1), mine.get(2), mine.get(3));
            CohortException e = assertThrows(CohortException.class, () -> group.allReduce(swapped, ReduceOp.SUM));
            assertTrue(e.getMessage().contains("rank 0's send tensor lives on host:2, rank 0 is host:0"), e.getMessage());
            List<Tensor> released = group.allocate(DType.F32, 64);
            group.release(released);
            e = assertThrows(CohortException.class, () -> group.allReduce(released, ReduceOp.SUM));
            assertTrue(e.getMessage().contains("rank 0's send tensor on host:0 was released to its pool"), e.getMessage());
        } finally {
            pair.release(theirs);
            group.release(mine);
            pair.close();
        }
    }

    @Test
    void aGroupOfAClosedCohortRefusesSayingSo() {
        List<Tensor> t = group.allocate(DType.F32, 64);
        cohort.close();
        CohortException e = assertThrows(CohortException.class, () -> group.allReduce(t, ReduceOp.SUM));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        group.close(); // nothing to do, at once
    }

    static void assertSumWorks(CohortGroup g) throws Exception {
        List<Tensor> t = g.allocate(DType.F32, 1000);
        try {
            fill(t, 1);
            g.allReduce(t, ReduceOp.SUM).toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertAll(t, g.size());
        } finally {
            g.release(t);
        }
    }

    static void fill(List<Tensor> t, float v) {
        for (Tensor x : t) {
            float[] values = new float[(int) x.count()];
            Arrays.fill(values, v);
            RandomData.write(x.buffer(), DType.F32, values);
        }
    }

    static void assertAll(List<Tensor> t, float expected) {
        for (int r = 0; r < t.size(); r++) {
            for (float v : RandomData.read(t.get(r).buffer(), DType.F32, (int) t.get(r).count())) {
                if (v != expected) {
                    throw new AssertionError("rank " + r + ": " + v + ", expected " + expected);
                }
            }
        }
    }

}
