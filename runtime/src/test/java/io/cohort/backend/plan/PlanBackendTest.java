package io.cohort.backend.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.group.PeerAccessDetector;
import io.cohort.memory.CarvingMemoryPool;
import io.cohort.plan.Algorithm;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PlanBackendTest {

    private static final int N = 4;
    private final List<HostDevice> devices = HostDevices.open(N, new HostDevice.Options(128L << 20, Duration.ofSeconds(20)));
    private final List<DeviceStream> streams = new ArrayList<>();
    private final List<CarvingMemoryPool> pools = new ArrayList<>();

    @AfterEach
    void close() {
        HostDevices.closeAll(devices);
    }

    private PlanBackend backend(BackendKind kind, String algorithm) {
        List<RankContext> ranks = new ArrayList<>();
        for (int r = 0; r < N; r++) {
            streams.add(devices.get(r).createStream());
            pools.add(CarvingMemoryPool.create(devices.get(r), 8 << 20));
            ranks.add(new RankContext(r, devices.get(r), streams.get(r), pools.get(r)));
        }
        var config = ConfigFactory.parseString("algorithm.force = " + algorithm + "\npool.staging-capacity = 8M");
        return new PlanBackend(kind, new GroupContext(new PeerAccessDetector().detect(devices), ranks, config), null);
    }

    /** One thread per rank, enqueueing independently; user buffers reused in stream order between calls. */
    @ParameterizedTest
    @CsvSource({"P2P, one-shot", "P2P, ring", "NATIVE, ring", "NATIVE, binary-tree"})
    void ranksEnqueueFromTheirOwnThreads(BackendKind kind, String algorithm) throws Exception {
        PlanBackend backend = backend(kind, algorithm);
        int count = 1009;
        int rounds = 20;
        DeviceBuffer[] send = new DeviceBuffer[N];
        DeviceBuffer[] recv = new DeviceBuffer[N];
        float[][] x = new float[N][];
        for (int r = 0; r < N; r++) {
            send[r] = devices.get(r).allocate(count * 4L);
            recv[r] = devices.get(r).allocate(count * 4L);
            x[r] = RandomData.integers(new SplittableRandom(r), count, 1);
            RandomData.write(send[r], DType.F32, x[r]);
        }
        CollectiveCall call = CollectiveCall.allReduce(DType.F32, ReduceOp.MAX, count);
        ExecutorService threads = Executors.newFixedThreadPool(N);
        List<Future<?>> done = new ArrayList<>();
        for (int r = 0; r < N; r++) {
            int rank = r;
            done.add(threads.submit(() -> {
                for (int seq = 1; seq <= rounds; seq++) {
                    backend.enqueue(rank, seq, call, send[rank], recv[rank]);
                    // send = max(send) + send, in stream order, right after the collective
                    streams.get(rank).reduce(DType.F32, ReduceOp.SUM, recv[rank], 0, send[rank], 0, send[rank], 0, count);
                }
            }));
        }
        for (Future<?> f : done) {
            f.get();
        }
        threads.shutdown();
        streams.forEach(DeviceStream::synchronize);
        for (int k = 0; k < rounds; k++) {
            float[] max = Reference.reduce(DType.F32, ReduceOp.MAX, x, 0, count);
            for (float[] xr : x) {
                for (int i = 0; i < count; i++) {
                    xr[i] += max[i];
                }
            }
        }
        for (int r = 0; r < N; r++) {
            assertArrayEquals(x[r], RandomData.read(send[r], DType.F32, count), "rank " + r);
        }
        assertTrue(backend.describe(call).startsWith(kind.cliName() + " backend, " + algorithm + ": "),
                backend.describe(call));
        backend.close();
    }

    @Test
    void nativePlansUseNoP2p() {
        PlanBackend backend = backend(BackendKind.NATIVE, "none");
        assertTrue(!backend.planTopology().p2p(0, 1) && backend.planTopology().p2p(1, 1));
        assertEquals(Algorithm.ONE_SHOT, backend.algorithm(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 10)),
                "the rules of reference.conf: small messages without P2P go one-shot");
        assertEquals(Algorithm.RING, backend.algorithm(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1 << 20)),
                "large ones ring");
        backend.close();
    }

    @Test
    void argumentsAreCheckedBeforeAnythingIsEnqueued() {
        PlanBackend backend = backend(BackendKind.P2P, "ring");
        DeviceBuffer small = devices.get(1).allocate(40);
        DeviceBuffer ok = devices.get(1).allocate(400);
        CollectiveCall call = CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 100);
        rejects("rank 4 outside 0..3", () -> backend.enqueue(4, 1, call, ok, ok));
        rejects("rank 1: send buffer holds 40 bytes, ALL_REDUCE of 100 x F32 over 4 ranks needs 400",
                () -> backend.enqueue(1, 1, call, small, ok));
        rejects("rank 1: recv buffer holds 40 bytes, ALL_REDUCE of 100 x F32 over 4 ranks needs 400",
                () -> backend.enqueue(1, 1, call, ok, small));
        CollectiveCall gather = new CollectiveCall(Collective.ALL_GATHER, DType.F32, ReduceOp.SUM, 100, 0);
        rejects("rank 1: recv buffer holds 400 bytes, ALL_GATHER of 100 x F32 over 4 ranks needs 1600",
                () -> backend.enqueue(1, 1, gather, ok, ok));
        CollectiveCall broadcast = new CollectiveCall(Collective.BROADCAST, DType.F32, ReduceOp.SUM, 100, 9);
        rejects("rank 1: root 9 outside 0..3", () -> backend.enqueue(1, 1, broadcast, ok, ok));
        DeviceBuffer ok0 = devices.get(0).allocate(400);
        CollectiveCall reduce = new CollectiveCall(Collective.REDUCE, DType.F32, ReduceOp.SUM, 100, 0);
        rejects("rank 0: REDUCE of 100 x F32 needs a recv buffer", () -> backend.enqueue(0, 1, reduce, ok0, null));
        rejects("rank 1: REDUCE of 100 x F32 needs a send buffer", () -> backend.enqueue(1, 1, reduce, null, null));
        CollectiveCall fromRoot = new CollectiveCall(Collective.BROADCAST, DType.F32, ReduceOp.SUM, 100, 0);
        rejects("rank 0: BROADCAST of 100 x F32 needs a send buffer", () -> backend.enqueue(0, 1, fromRoot, null, ok0));
        rejects("rank 1: BROADCAST of 100 x F32 needs a recv buffer", () -> backend.enqueue(1, 1, fromRoot, null, null));
        rejects("enqueueAll needs 4 send and recv buffers, got 1 and 1",
                () -> backend.enqueueAll(1, call, new DeviceBuffer[] {ok}, new DeviceBuffer[] {ok}));
        backend.close();
    }

    @Test
    void aPeerThatNeverEnqueuesTimesOut() {
        List<RankContext> ranks = new ArrayList<>();
        for (int r = 0; r < N; r++) {
            streams.add(devices.get(r).createStream());
            pools.add(CarvingMemoryPool.create(devices.get(r), 1 << 20));
            ranks.add(new RankContext(r, devices.get(r), streams.get(r), pools.get(r)));
        }
        var config = ConfigFactory.parseString("algorithm.force = one-shot\ncollective.timeout = 100ms");
        PlanBackend backend = new PlanBackend(BackendKind.P2P,
                new GroupContext(new PeerAccessDetector().detect(devices), ranks, config), null);
        DeviceBuffer b = devices.get(0).allocate(64);
        rejects("rank 0: timed out after 100 ms waiting for rank 1 to enqueue collective 1",
                () -> backend.enqueue(0, 1, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 16), b, b));
        backend.close();
    }

    private static void rejects(String expected, Runnable call) {
        CohortException e = assertThrows(CohortException.class, call::run);
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
