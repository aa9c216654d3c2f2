package io.cohort.api;

import io.cohort.group.CollectiveResult;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.Tensor;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every collective through the actor runtime (Cohort -> Coordinator -> DeviceActors -> plan backends) on
 * groups of 1 to 8 host devices, p2p and native, checked against the runtime's independent reference.
 */
class CollectivesThroughActorsTest {

    static Cohort cohort;
    static List<Device> devices;
    static final java.util.Map<String, CohortGroup> groups = new java.util.HashMap<>();

    @BeforeAll
    static void start() {
        cohort = Cohort.start(ConfigFactory.load());
        devices = cohort.devices("host:8");
    }

    @AfterAll
    static void stop() {
        groups.values().forEach(CohortGroup::close);
        cohort.close();
    }

    static CohortGroup group(int n, BackendKind kind) {
        return groups.computeIfAbsent(n + "/" + kind, k -> cohort.group(devices.subList(0, n), kind));
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (int n = 1; n <= 8; n++) {
            for (BackendKind kind : List.of(BackendKind.P2P, BackendKind.NATIVE)) {
                for (Collective c : Collective.values()) {
                    cases.add(Arguments.of(n, kind, c, DType.F32, ReduceOp.SUM));
                    if (n == 3 || n == 8) {
                        cases.add(Arguments.of(n, kind, c, DType.BF16, c.reduces() ? ReduceOp.AVG : ReduceOp.SUM));
                        if (c.reduces()) {
                            cases.add(Arguments.of(n, kind, c, DType.F16, ReduceOp.MAX));
                            cases.add(Arguments.of(n, kind, c, DType.F32, ReduceOp.MIN));
                        }
                    }
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{2} {3} {4} on {0} host devices, {1}")
    @MethodSource("cases")
    void matchesReference(int n, BackendKind kind, Collective collective, DType dtype, ReduceOp op) {
        CohortGroup g = group(n, kind);
        assertEquals(kind, g.backendChoice().chosen());
        int count = 1031; // odd: uneven ring chunks
        int root = collective.rooted() ? n - 1 : 0;
        int sendCount = (int) collective.sendCount(count, n);
        int recvCount = (int) collective.recvCount(count, n);
        float[][] input = RandomData.perRank(n * 1000L + collective.ordinal(), dtype, n, sendCount);
        List<Tensor> send = g.allocate(dtype, sendCount);
        List<Tensor> recv = g.allocate(dtype, recvCount);
        try {
            for (int r = 0; r < n; r++) {
                RandomData.write(send.get(r).buffer(), dtype, input[r]);
            }
            CompletionStage<CollectiveResult> stage = switch (collective) {
                case ALL_REDUCE -> g.allReduce(send, recv, op);
                case REDUCE -> g.reduce(send, recv, op, root);
                case BROADCAST -> g.broadcast(send, recv, root);
                case REDUCE_SCATTER -> g.reduceScatter(send, recv, op);
                case ALL_GATHER -> g.allGather(send, recv);
            };
            CollectiveResult result = stage.toCompletableFuture().join();
            assertEquals(collective, result.collective());
            assertEquals(kind, result.backend());
            float[][] expected = Reference.expected(collective, dtype, op, root, input);
            for (int r = 0; r < n; r++) {
                if (expected[r] == null) {
                    continue; // reduce: only the root receives
                }
                float[] got = RandomData.read(recv.get(r).buffer(), dtype, recvCount);
                for (int i = 0; i < recvCount; i++) {
                    long at = collective == Collective.REDUCE_SCATTER ? (long) r * count + i : i;
                    double tol = collective.reduces() ? Reference.tolerance(dtype, op, n, Reference.absSum(input, at)) : 0;
                    if (Math.abs(got[i] - expected[r][i]) > tol) {
                        throw new AssertionError(collective.cliName() + " rank " + r + " element " + i + ": got " + got[i]
                                + ", expected " + expected[r][i] + " (tolerance " + tol + ")");
                    }
                }
            }
        } finally {
            g.release(send);
            g.release(recv);
        }
    }

    @Test
    void inPlaceAllReduceAndBarrierAndBackToBackCollectivesKeepOrder() {
        CohortGroup g = group(4, BackendKind.P2P);
        List<Tensor> t = g.allocate(DType.F32, 4096);
        try {
            for (int r = 0; r < 4; r++) {
                RandomData.write(t.get(r).buffer(), DType.F32, filled(4096, 1));
            }
            // ten in-place sums back to back without waiting: each multiplies every element by 4
            List<CompletionStage<CollectiveResult>> stages = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                stages.add(g.allReduce(t, ReduceOp.SUM));
            }
            stages.add(g.barrier());
            long lastSeq = 0;
            for (CompletionStage<CollectiveResult> s : stages) {
                CollectiveResult r = s.toCompletableFuture().join();
                assertTrue(r.seq() > lastSeq, "sequence numbers increase");
                lastSeq = r.seq();
                assertTrue(r.enqueueNanos() > 0 && r.enqueueNanos() <= r.elapsedNanos());
            }
            float expected = (float) Math.pow(4, 10);
            for (int r = 0; r < 4; r++) {
                float[] got = RandomData.read(t.get(r).buffer(), DType.F32, 4096);
                for (float v : got) {
                    assertEquals(expected, v);
                }
            }
        } finally {
            g.release(t);
        }
        assertTrue(cohort.metrics().stream().anyMatch(m -> m.key().collective() == Collective.ALL_REDUCE
                && m.key().backend() == BackendKind.P2P && m.count() >= 10 && m.bytes() >= 10 * 4096 * 4));
    }

    @Test
    void groupsSharingDevicesInterleaveWithoutWaitingAndStayCorrect() throws Exception {
        CohortGroup all = group(4, BackendKind.P2P);
        CohortGroup pair = cohort.group(devices.subList(2, 4), BackendKind.NATIVE);
        List<Tensor> a = all.allocate(DType.F32, 777);
        List<Tensor> p = pair.allocate(DType.F32, 777);
        try {
            for (int r = 0; r < 4; r++) {
                RandomData.write(a.get(r).buffer(), DType.F32, filled(777, 1));
            }
            for (int r = 0; r < 2; r++) {
                RandomData.write(p.get(r).buffer(), DType.F32, filled(777, 1));
            }
            // from two threads at once, none waiting: each group's calls in its own order, devices 2 and 3 shared
            var t1 = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                List<CompletionStage<CollectiveResult>> s = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    s.add(all.allReduce(a, ReduceOp.SUM));
                }
                return s;
            });
            var t2 = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                List<CompletionStage<CollectiveResult>> s = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    s.add(pair.allReduce(p, ReduceOp.SUM));
                }
                return s;
            });
            for (var s : t1.get()) {
                s.toCompletableFuture().join();
            }
            for (var s : t2.get()) {
                s.toCompletableFuture().join();
            }
            for (int r = 0; r < 4; r++) {
                for (float v : RandomData.read(a.get(r).buffer(), DType.F32, 777)) {
                    assertEquals(1024f, v); // 4^5
                }
            }
            for (int r = 0; r < 2; r++) {
                for (float v : RandomData.read(p.get(r).buffer(), DType.F32, 777)) {
                    assertEquals(32f, v); // 2^5
                }
            }
        } finally {
            all.release(a);
            pair.release(p);
            pair.close();
        }
    }

    @Test
    void tensorsThatDoNotFitAreRefusedAtOnce() {
        CohortGroup g = group(2, BackendKind.P2P);
        List<Tensor> small = g.allocate(DType.F32, 10);
        List<Tensor> big = g.allocate(DType.F32, 100);
        try {
            var e = org.junit.jupiter.api.Assertions.assertThrows(io.cohort.core.CohortException.class,
                    () -> g.run(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 100), small, big));
            assertTrue(e.getMessage().contains("rank 0's send tensor on host:0 has 10 elements, needs 100"), e.getMessage());
            e = org.junit.jupiter.api.Assertions.assertThrows(io.cohort.core.CohortException.class,
                    () -> g.allGather(big, big));
            assertTrue(e.getMessage().contains("needs 200"), e.getMessage());
        } finally {
            g.release(small);
            g.release(big);
        }
    }

    static float[] filled(int n, float v) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, v);
        return x;
    }
}
