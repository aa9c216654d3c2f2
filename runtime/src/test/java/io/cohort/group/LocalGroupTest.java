package io.cohort.group;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.GroupContext;
import io.cohort.backend.plan.PlanBackend;
import io.cohort.backend.plan.PlanNativeProvider;
import io.cohort.backend.plan.PlanP2pProvider;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.plan.Algorithm;
import io.cohort.testing.DirectPlanner;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** LocalGroup on host devices, with the test's DirectPlanner (ALL_REDUCE) standing in for the planners. */
class LocalGroupTest {

    private final List<HostDevice> devices = HostDevices.open(4, new HostDevice.Options(64L << 20, Duration.ofSeconds(10)));

    @AfterEach
    void close() {
        HostDevices.closeAll(devices);
    }

    /** Plan providers that plan with DirectPlanner. */
    private record DirectProvider(BackendProvider delegate) implements BackendProvider {
        @Override
        public BackendKind kind() {
            return delegate.kind();
        }

        @Override
        public int priority() {
            return delegate.priority();
        }

        @Override
        public Optional<String> unavailableReason(GroupContext group) {
            return delegate.unavailableReason(group);
        }

        @Override
        public CollectiveBackend create(GroupContext group) {
            return new PlanBackend(kind(), group, (c, t, b, d) -> Algorithm.ONE_SHOT, a -> new DirectPlanner());
        }
    }

    private static final List<BackendProvider> DIRECT = List.of(new DirectProvider(new PlanP2pProvider()),
            new DirectProvider(new PlanNativeProvider()));

    private LocalGroup open(List<HostDevice> devices, BackendKind kind) {
        return LocalGroup.builder(devices).backend(kind).providers(DIRECT).poolCapacity(1 << 20).open();
    }

    private Tensor[] tensors(List<HostDevice> devices, DType dtype, long count) {
        Tensor[] t = new Tensor[devices.size()];
        for (int r = 0; r < t.length; r++) {
            t[r] = new Tensor(devices.get(r).allocate(Math.max(1, count * dtype.bytes())), dtype, count);
        }
        return t;
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"P2P", "NATIVE"})
    void allReduceMatchesTheReference(BackendKind kind) {
        try (LocalGroup group = open(devices, kind)) {
            assertEquals(kind, group.backendChoice().chosen());
            int count = 1009;
            Tensor[] send = tensors(devices, DType.F32, count);
            Tensor[] recv = tensors(devices, DType.F32, count);
            float[][] x = RandomData.perRank(7, DType.F32, 4, count);
            for (int r = 0; r < 4; r++) {
                RandomData.write(send[r].buffer(), DType.F32, x[r]);
            }
            group.allReduceSync(send, recv, ReduceOp.SUM);
            float[] want = Reference.reduce(DType.F32, ReduceOp.SUM, x, 0, count);
            for (int r = 0; r < 4; r++) {
                float[] got = RandomData.read(recv[r].buffer(), DType.F32, count);
                for (int i = 0; i < count; i++) {
                    double tol = Reference.tolerance(DType.F32, ReduceOp.SUM, 4, Reference.absSum(x, i));
                    assertEquals(want[i], got[i], tol, "rank " + r + " element " + i);
                }
            }
            assertEquals(1, group.seq());
            group.barrierSync();
            assertEquals(2, group.seq());
        }
    }

    @Test
    void autoOnHostDevicesChoosesP2pOverSharedMemory() {
        try (LocalGroup group = open(devices, BackendKind.AUTO)) {
            assertEquals(BackendKind.P2P, group.backendChoice().chosen());
            Topology t = group.topology();
            assertTrue(t.fullyConnected());
            assertEquals("SHM", t.link(0, 1).label());
        }
    }

    @Test
    void aTopologyFileReplacesDetection() {
        var config = com.typesafe.config.ConfigFactory.parseString(
                "cohort.topology.file = \"../conf/topologies/nop2p-4.conf\"").withFallback(com.typesafe.config.ConfigFactory.load());
        try (LocalGroup group = LocalGroup.builder(devices).config(config).poolCapacity(1 << 20).open()) {
            assertEquals(BackendKind.NATIVE, group.backendChoice().chosen(), group.backendChoice().toString());
            assertTrue(group.backendChoice().reason().contains("no P2P from rank 0"), group.backendChoice().reason());
            Tensor[] data = tensors(devices, DType.F32, 1000);
            for (int r = 0; r < 4; r++) {
                DType.F32.set(data[r].buffer().segment(), 999, r);
            }
            group.allReduceSync(data, ReduceOp.MAX);
            assertEquals(3f, DType.F32.get(data[0].buffer().segment(), 999));
        }
    }

    @Test
    void inPlaceAllReduceBackToBack() {
        try (LocalGroup group = open(devices, BackendKind.P2P)) {
            Tensor[] data = tensors(devices, DType.BF16, 33);
            for (int r = 0; r < 4; r++) {
                RandomData.write(data[r].buffer(), DType.BF16, RandomData.integers(new SplittableRandom(1), 33, 0));
                DType.BF16.set(data[r].buffer().segment(), 0, 1f);
            }
            for (int k = 0; k < 5; k++) {
                group.allReduce(data, ReduceOp.SUM); // 1 -> 4 -> 16 -> 64 -> 256 -> 1024: exact in bf16
            }
            group.synchronize();
            for (int r = 0; r < 4; r++) {
                assertEquals(1024f, DType.BF16.get(data[r].buffer().segment(), 0));
            }
            assertEquals(5, group.seq());
        }
    }

    // ------------------------------------------------------------------ validation

    private void rejects(String expected, Runnable call) {
        CohortException e = assertThrows(CohortException.class, call::run);
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    @Test
    void rejectsWrongNumbersOfTensors() {
        try (LocalGroup group = open(devices, BackendKind.P2P)) {
            Tensor[] four = tensors(devices, DType.F32, 8);
            Tensor[] three = java.util.Arrays.copyOf(four, 3);
            rejects("expected one send tensor per rank (4), got 3", () -> group.allReduce(three, four, ReduceOp.SUM));
            rejects("expected one recv tensor per rank (4), got 3", () -> group.allReduce(four, three, ReduceOp.SUM));
            Tensor[] holes = four.clone();
            holes[2] = null;
            rejects("rank 2 has no recv tensor", () -> group.allReduce(four, holes, ReduceOp.SUM));
            // NCCL's convention: only the buffers a rank really uses are required
            rejects("rank 2 has no send tensor", () -> group.reduce(holes, four, ReduceOp.SUM, 0));
            rejects("rank 2 has no recv tensor", () -> group.reduce(four, holes, ReduceOp.SUM, 2));
            rejects("rank 2 has no send tensor", () -> group.broadcast(holes, four, 2));
            rejects("rank 2 has no recv tensor", () -> group.broadcast(four, holes, 0));
            assertEquals(0, group.seq(), "nothing was enqueued");
        }
    }

    @Test
    void rejectsMismatchedCountsAndDtypes() {
        try (LocalGroup group = open(devices, BackendKind.P2P)) {
            Tensor[] send = tensors(devices, DType.F32, 8);
            Tensor[] recv = tensors(devices, DType.F32, 8);
            Tensor[] ragged = send.clone();
            ragged[3] = new Tensor(send[3].buffer(), DType.F32, 7);
            rejects("rank 3's send has 7 elements, rank 0's has 8", () -> group.allReduce(ragged, recv, ReduceOp.SUM));
            Tensor[] mixed = send.clone();
            mixed[1] = new Tensor(send[1].buffer(), DType.F16, 8);
            rejects("rank 1's send is F16, rank 0's send is F32", () -> group.allReduce(mixed, recv, ReduceOp.SUM));
            Tensor[] shortRecv = recv.clone();
            shortRecv[2] = new Tensor(recv[2].buffer(), DType.F32, 4);
            rejects("rank 2's recv has 4 elements, all-reduce of 8 per rank over 4 ranks needs 8",
                    () -> group.allReduce(send, shortRecv, ReduceOp.SUM));
            rejects("rank 0's recv has 8 elements, all-gather of 8 per rank over 4 ranks needs 32",
                    () -> group.allGather(send, recv));
            Tensor[] odd = tensors(devices, DType.F32, 10);
            rejects("send has 10 elements, not a multiple of the 4 ranks", () -> group.reduceScatter(odd, recv, ReduceOp.SUM));
            rejects("root 4 outside 0..3", () -> group.broadcast(send, 4));
            rejects("root -1 outside 0..3", () -> group.reduce(send, recv, ReduceOp.SUM, -1));
        }
    }

    @Test
    void tensorsCannotBeNegativeOrOverflowTheirBuffer() {
        var buffer = devices.get(0).allocate(16);
        assertThrows(IllegalArgumentException.class, () -> new Tensor(buffer, DType.F32, -1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Tensor(buffer, DType.F32, 5));
        assertTrue(e.getMessage().contains("do not fit a buffer of 16 bytes on host:0"), e.getMessage());
    }

    @Test
    void rejectsTensorsOnTheWrongDevice() {
        try (LocalGroup group = open(devices, BackendKind.P2P)) {
            Tensor[] send = tensors(devices, DType.F32, 8);
            Tensor[] swapped = send.clone();
            swapped[0] = send[1];
            swapped[1] = send[0];
            rejects("rank 0's send tensor is on host:1, but rank 0 is host:0", () -> group.allReduce(swapped, send, ReduceOp.SUM));
        }
    }

    @Test
    void rejectsTheSameDeviceTwice() {
        List<HostDevice> twice = List.of(devices.get(0), devices.get(1), devices.get(0));
        rejects("device host:0 appears twice in the group (ranks 0 and 2)", () -> open(twice, BackendKind.P2P));
    }

    @Test
    void rejectsPlansWhoseScratchDoesNotFitThePool() {
        try (LocalGroup group = LocalGroup.builder(devices).backend(BackendKind.P2P).providers(DIRECT)
                .poolCapacity(4096).open()) {
            Tensor[] big = tensors(devices, DType.F32, 2048); // DirectPlanner P2P needs count elements of scratch
            rejects("rank 0 (host:0): pool too small for the scratch of ONE_SHOT ALL_REDUCE of 2048 x F32 over 4 ranks",
                    () -> group.allReduce(big, ReduceOp.SUM));
            assertEquals(0, group.seq());
        }
    }

    @Test
    void closeFreesMemoryAndJoinsStreamThreads() {
        long before = devices.get(2).usedMemory();
        LocalGroup group = open(devices, BackendKind.NATIVE);
        Tensor[] data = tensors(devices, DType.F32, 100);
        group.allReduceSync(data, ReduceOp.MAX);
        long threads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("cohort-host-2-stream")).count();
        assertEquals(1, threads);
        group.close();
        assertEquals(0, Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("cohort-host-2-stream") && t.isAlive()).count());
        assertEquals(before + 400, devices.get(2).usedMemory(), "only the test's own tensor is left");
        rejects("closed", () -> group.allReduce(data, ReduceOp.SUM));
    }

    @Test
    void failuresOnAStreamNameTheRank() {
        List<HostDevice> quick = HostDevices.open(2, new HostDevice.Options(16L << 20, Duration.ofMillis(100)));
        try (LocalGroup group = open(quick, BackendKind.NATIVE)) {
            Tensor[] data = tensors(quick, DType.F32, 16);
            group.allReduceSync(data, ReduceOp.SUM);
            // rank 1's part alone: rank 0's stream never signals, rank 1 times out
            group.backend().enqueue(1, group.seq() + 1, io.cohort.backend.CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 16),
                    data[1].buffer(), data[1].buffer());
            CohortException e = assertThrows(CohortException.class, group::synchronize);
            assertTrue(e.getMessage().startsWith("rank 1 (host:1): "), e.getMessage());
            assertTrue(e.getMessage().contains("waitValue timed out"), e.getMessage());
        } finally {
            HostDevices.closeAll(quick);
        }
    }

    /** The hot path (validate, cached plan and binding, stream commands into the ring) allocates nothing. */
    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"P2P", "NATIVE"})
    void steadyStateCallsDoNotAllocate(BackendKind kind) {
        var config = com.typesafe.config.ConfigFactory.parseString("cohort.algorithm.force = ring\n"
                + "cohort.pool.staging-capacity = 1M").withFallback(com.typesafe.config.ConfigFactory.load());
        try (LocalGroup group = LocalGroup.builder(devices).backend(kind).config(config).poolCapacity(1 << 20).open()) {
            Tensor[] data = tensors(devices, DType.F32, 1024);
            var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            long self = Thread.currentThread().threadId();
            for (int i = 0; i < 3000; i++) { // warm up: plan, binding, JIT
                group.allReduce(data, ReduceOp.MAX);
            }
            group.synchronize();
            int calls = 2000;
            long before = threads.getThreadAllocatedBytes(self);
            for (int i = 0; i < calls; i++) {
                group.allReduce(data, ReduceOp.MAX);
            }
            long allocated = threads.getThreadAllocatedBytes(self) - before;
            group.synchronize();
            assertTrue(allocated < calls * 16L, "allocated " + allocated + " bytes over " + calls + " calls");
        }
    }

    /** The class javadoc's example, with every default (ServiceLoader providers, default pools and planners). */
    @Test
    void defaultsWork() {
        List<HostDevice> defaults = HostDevices.open(4);
        try (LocalGroup group = LocalGroup.open(defaults)) {
            Tensor[] x = new Tensor[4];
            for (int r = 0; r < 4; r++) {
                x[r] = new Tensor(defaults.get(r).allocate(1024 * 4), DType.F32, 1024);
                DType.F32.set(x[r].buffer().segment(), 5, r + 1);
            }
            group.allReduceSync(x, ReduceOp.SUM);
            assertEquals(10f, DType.F32.get(x[3].buffer().segment(), 5));
            assertEquals(BackendKind.P2P, group.backendChoice().chosen());
            assertEquals(io.cohort.memory.MemoryPool.defaultCapacity(defaults.get(0).totalMemory()),
                    group.pool(0).capacity(), 256.0);
        } finally {
            HostDevices.closeAll(defaults);
        }
    }

    @Test
    void sameDataGivesSameBitsOnBothBackends() {
        float[][] x = RandomData.perRank(3, DType.F16, 4, 257);
        float[][] results = new float[2][];
        int i = 0;
        for (BackendKind kind : new BackendKind[] {BackendKind.P2P, BackendKind.NATIVE}) {
            try (LocalGroup group = open(devices, kind)) {
                Tensor[] data = tensors(devices, DType.F16, 257);
                for (int r = 0; r < 4; r++) {
                    RandomData.write(data[r].buffer(), DType.F16, x[r]);
                }
                group.allReduceSync(data, ReduceOp.AVG);
                results[i++] = RandomData.read(data[3].buffer(), DType.F16, 257);
            }
        }
        assertArrayEquals(results[0], results[1], "DirectPlanner reduces in rank order on both paths");
    }
}
