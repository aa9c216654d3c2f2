package io.cohort.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.memory.CarvingMemoryPool;
import io.cohort.memory.MemoryPool;
import io.cohort.plan.Algorithm;
import io.cohort.plan.BufferRef;
import io.cohort.plan.Plan;
import io.cohort.plan.PlanException;
import io.cohort.plan.PlanRequest;
import io.cohort.plan.Step;
import io.cohort.testing.DirectPlanner;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class PlanExecutorTest {

    private List<HostDevice> devices;
    private List<DeviceStream> streams;
    private List<MemoryPool> pools;

    private void open(int n, Duration waitTimeout) {
        devices = HostDevices.open(n, new HostDevice.Options(64L << 20, waitTimeout));
        streams = devices.stream().map(d -> d.createStream()).toList();
        pools = devices.stream().map(d -> (MemoryPool) CarvingMemoryPool.create(d, 1 << 20)).toList();
    }

    @AfterEach
    void close() {
        if (devices != null) {
            HostDevices.closeAll(devices);
        }
    }

    private static Topology topology(int n, boolean p2p) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            names.add("host:" + i);
        }
        Topology t = Topology.uniform("test", names, new Link(true, LinkKind.SHARED_MEMORY, 0, 0, Double.NaN, Double.NaN));
        return p2p ? t : t.withoutP2p();
    }

    private PlanExecutor executor(Plan plan, DType dtype, Topology topology) {
        List<MemoryPool> staging = devices.stream()
                .map(d -> (MemoryPool) CarvingMemoryPool.create(d, 1 << 20, CarvingMemoryPool.Source.PINNED_HOST)).toList();
        return new PlanExecutor(plan, dtype, devices, streams, pools, staging::get, topology);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void backToBackRunsReuseUserBuffersInStreamOrder(boolean p2p) {
        int n = 3;
        int count = 1009;
        open(n, Duration.ofSeconds(10));
        Topology topology = topology(n, p2p);
        Plan plan = new DirectPlanner().plan(PlanRequest.of(Collective.ALL_REDUCE, topology, count));
        PlanExecutor executor = executor(plan, DType.F32, topology);
        DeviceBuffer[] send = new DeviceBuffer[n];
        DeviceBuffer[] recv = new DeviceBuffer[n];
        float[][] x = new float[n][];
        for (int r = 0; r < n; r++) {
            send[r] = devices.get(r).allocate(count * 4L);
            recv[r] = devices.get(r).allocate(count * 4L);
            x[r] = RandomData.integers(new SplittableRandom(r), count, 4);
            RandomData.write(send[r], DType.F32, x[r]);
        }
        // each round: recv = sum(send); then, in stream order, send = recv + send. No host sync in between.
        int rounds = 8;
        for (int k = 1; k <= rounds; k++) {
            for (int r = 0; r < n; r++) {
                executor.enqueue(r, k, ReduceOp.SUM, send, recv);
                streams.get(r).reduce(DType.F32, ReduceOp.SUM, recv[r], 0, send[r], 0, send[r], 0, count);
            }
            float[] sum = Reference.reduce(DType.F32, ReduceOp.SUM, x, 0, count);
            for (int r = 0; r < n; r++) {
                for (int i = 0; i < count; i++) {
                    x[r][i] += sum[i];
                }
            }
        }
        streams.forEach(DeviceStream::synchronize);
        for (int r = 0; r < n; r++) {
            assertArrayEquals(x[r], RandomData.read(send[r], DType.F32, count), "rank " + r);
        }
        executor.close();
    }

    @Test
    void inPlaceAverageScalesAfterTheExchange() {
        int n = 4;
        int count = 7;
        open(n, Duration.ofSeconds(10));
        Topology topology = topology(n, true);
        Plan plan = new DirectPlanner().plan(PlanRequest.of(Collective.ALL_REDUCE, topology, count));
        PlanExecutor executor = executor(plan, DType.F32, topology);
        DeviceBuffer[] data = new DeviceBuffer[n];
        float[][] x = new float[n][];
        for (int r = 0; r < n; r++) {
            data[r] = devices.get(r).allocate(count * 4L);
            x[r] = RandomData.integers(new SplittableRandom(r), count, 8);
            RandomData.write(data[r], DType.F32, x[r]);
        }
        for (int r = n - 1; r >= 0; r--) { // enqueue order does not matter
            executor.enqueue(r, 1, ReduceOp.AVG, data, data);
        }
        streams.forEach(DeviceStream::synchronize);
        float[] sum = Reference.reduce(DType.F32, ReduceOp.SUM, x, 0, count);
        for (int r = 0; r < n; r++) {
            float[] got = RandomData.read(data[r], DType.F32, count);
            for (int i = 0; i < count; i++) {
                assertEquals(sum[i] * 0.25f, got[i], 0f, "rank " + r + " i " + i);
            }
        }
    }

    @Test
    void aRankThatNeverComesTimesOutNamingTheFlag() {
        int n = 2;
        open(n, Duration.ofMillis(200));
        Topology topology = topology(n, false);
        Plan plan = new DirectPlanner().plan(PlanRequest.of(Collective.ALL_REDUCE, topology, 16));
        PlanExecutor executor = executor(plan, DType.F32, topology);
        DeviceBuffer[] b = {devices.get(0).allocate(64), devices.get(1).allocate(64)};
        executor.enqueue(1, 1, ReduceOp.SUM, b, b); // rank 0 never enqueues
        CohortException e = assertThrows(CohortException.class, () -> streams.get(1).synchronize());
        assertTrue(e.getMessage().contains("flags of rank 0"), e.getMessage());
        assertTrue(e.getMessage().contains("timed out after 200 ms"), e.getMessage());
    }

    @Test
    void userBuffersAreCheckedWhenBound() {
        open(2, Duration.ofSeconds(5));
        Topology topology = topology(2, true);
        Plan plan = new DirectPlanner().plan(PlanRequest.of(Collective.ALL_REDUCE, topology, 100));
        PlanExecutor executor = executor(plan, DType.F32, topology);
        DeviceBuffer[] send = {devices.get(0).allocate(400), devices.get(1).allocate(396)};
        CohortException e = assertThrows(CohortException.class, () -> executor.enqueue(0, 1, ReduceOp.SUM, send, send));
        assertTrue(e.getMessage().contains("rank 0: send buffer of rank 1 holds 396 bytes"), e.getMessage());
    }

    @Test
    void scratchLargerThanThePoolIsReportedPerRank() {
        open(2, Duration.ofSeconds(5));
        Topology topology = topology(2, true);
        Plan plan = new DirectPlanner().plan(PlanRequest.of(Collective.ALL_REDUCE, topology, 1 << 20));
        CohortException e = assertThrows(CohortException.class, () -> executor(plan, DType.F32, topology));
        assertTrue(e.getMessage().startsWith("rank 0 (host:0): pool too small for the scratch"), e.getMessage());
    }

    // ------------------------------------------------------------------ validation

    private static Plan plan(int n, long scratch, List<List<Step>> steps) {
        return new Plan(Collective.ALL_REDUCE, Algorithm.RING, n, 0, 8, steps, scratch, 8, "hand plan");
    }

    private void invalid(Plan plan, Topology topology, String expected) {
        PlanException e = assertThrows(PlanException.class,
                () -> BindingValidator.validate(plan, devices, topology));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void validatorRejectsWaitsNobodySignals() {
        open(2, Duration.ofSeconds(5));
        invalid(plan(2, 0, List.of(List.of(new Step.Wait(1, 3)), List.of(new Step.Signal(0)))), null,
                "waits for tag 3 that rank 1 never signals");
        invalid(plan(2, 0, List.of(List.of(new Step.Signal(0), new Step.Signal(0)), List.of())), null,
                "rank 0 step 1 (Signal[tag=0]): expected tag 1");
        invalid(plan(2, 0, List.of(List.of(new Step.Wait(5, 0)), List.of())), null, "waits on rank 5");
    }

    @Test
    void validatorRejectsOutOfRangeAccesses() {
        open(2, Duration.ofSeconds(5));
        invalid(plan(2, 4, List.of(List.of(new Step.Copy(BufferRef.send(0, 4), BufferRef.scratch(0, 0), 5)), List.of())),
                null, "5 elements at send[0]+4 overrun its 8 elements");
        invalid(plan(2, 4, List.of(List.of(new Step.Copy(BufferRef.send(0, 0), BufferRef.scratch(0, 0), 5)), List.of())),
                null, "5 elements at scratch[0]+0 overrun its 4 elements");
    }

    @Test
    void validatorRejectsPeerTouchesWithoutP2pOrBeforeAWait() {
        open(2, Duration.ofSeconds(5));
        Plan peerScratch = plan(2, 8, List.of(List.of(new Step.Copy(BufferRef.send(0, 0), BufferRef.scratch(1, 0), 8)),
                List.of()));
        invalid(peerScratch, topology(2, false), "host:0 has no P2P to host:1");
        invalid(plan(2, 8, List.of(List.of(new Step.Copy(BufferRef.send(1, 0), BufferRef.scratch(0, 0), 8)),
                List.of(new Step.Signal(0)))), topology(2, true), "before waiting on rank 1");
    }

    @Test
    void aWaitThroughAnotherRankOrdersATouch() {
        open(3, Duration.ofSeconds(5));
        // a wait through a third rank orders the touch as well as a direct one
        invalid(plan(3, 8, List.of(
                List.of(new Step.Wait(2, 0), new Step.Copy(BufferRef.send(1, 0), BufferRef.scratch(0, 0), 8)),
                List.of(new Step.Signal(0)),
                List.of(new Step.Signal(0)))), topology(3, true), "before waiting on rank 1");
        Plan chain = new Plan(Collective.BROADCAST, Algorithm.RING, 3, 1, 8, List.of(
                List.of(new Step.Wait(2, 0), new Step.Copy(BufferRef.send(1, 0), BufferRef.recv(0, 0), 8),
                        new Step.Signal(0)),
                // rank 0's signal covers rank 2's read too: one wait completes rank 1
                List.of(new Step.Copy(BufferRef.send(1, 0), BufferRef.recv(1, 0), 8), new Step.Signal(0),
                        new Step.Wait(0, 0)),
                List.of(new Step.Wait(1, 0), new Step.Copy(BufferRef.send(1, 0), BufferRef.recv(2, 0), 8),
                        new Step.Signal(0))), 0, 0, "chain");
        assertTrue(BindingValidator.validate(chain, devices, topology(3, true)).linksUsed().contains("0->1 SHM"));
    }

    @Test
    void validatorRejectsPlansThatFinishBeforeTheirReaders() {
        open(2, Duration.ofSeconds(5));
        // rank 0 reads rank 1's send, but rank 1 never waits for that read: its caller could overwrite send
        Plan early = new Plan(Collective.BROADCAST, Algorithm.RING, 2, 1, 8, List.of(
                List.of(new Step.Wait(1, 0), new Step.Copy(BufferRef.send(1, 0), BufferRef.recv(0, 0), 8)),
                List.of(new Step.Copy(BufferRef.send(1, 0), BufferRef.recv(1, 0), 8), new Step.Signal(0))),
                0, 0, "early");
        invalid(early, topology(2, true), "rank 1 may finish while rank 0 step 1");
    }

    @Test
    void validatorRejectsPeerTouchesTheDevicesCannotMake() {
        open(2, Duration.ofSeconds(5));
        List<Device> isolated = List.of(isolatedDevice(0), isolatedDevice(1));
        Plan direct = new DirectPlanner().plan(PlanRequest.of(Collective.ALL_REDUCE, topology(2, true), 8));
        PlanException e = assertThrows(PlanException.class, () -> BindingValidator.validate(direct, isolated, null));
        assertTrue(e.getMessage().contains("but gpu:0 cannot access gpu:1 (no P2P)"), e.getMessage());
        Plan staged = new DirectPlanner().plan(PlanRequest.of(Collective.ALL_REDUCE, topology(2, false), 8));
        BindingValidator.validate(staged, isolated, null);
    }

    /** A device that reaches no peer (only name and peer access are asked of it). */
    private static Device isolatedDevice(int ordinal) {
        return (Device) Proxy.newProxyInstance(Device.class.getClassLoader(), new Class<?>[] {Device.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name", "toString" -> "gpu:" + ordinal;
                    case "canAccessPeer" -> false;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
