package io.cohort.cuda.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaStream;
import io.cohort.cuda.Gpu;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import io.cohort.exec.PlanExecutor;
import io.cohort.memory.CarvingMemoryPool;
import io.cohort.memory.MemoryPool;
import io.cohort.plan.Algorithm;
import io.cohort.plan.Plan;
import io.cohort.plan.PlanRequest;
import io.cohort.plan.Planners;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The plan executor on CUDA ranks (4 ranks on one GPU): the native path (every link host-staged, so plans
 * move data through pinned staging with flags in pinned memory) and the plan-based P2P path, for every
 * collective, with pools carved from the GPU.
 */
@Tag("gpu")
class CudaPlanExecutorTest {

    private static final int N = 4;

    @Test
    void nativePathStagesEveryCollectiveThroughPinnedMemory() {
        Topology staged = Topology.uniform("native", names(), new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN));
        runAll(staged, List.of(Algorithm.RING, Algorithm.BINARY_TREE));
    }

    @Test
    void planBasedP2pPathOnOneDevice() {
        Topology self = Topology.uniform("virtual", names(), Link.self());
        runAll(self, List.of(Algorithm.RING, Algorithm.ONE_SHOT));
    }

    @Test
    void poolCarvesGpuMemory() {
        CudaDevice d = Gpu.device();
        try (CarvingMemoryPool pool = CarvingMemoryPool.create(d, 1 << 20); CudaStream s = d.createStream();
             Arena arena = Arena.ofConfined()) {
            DeviceBuffer a = pool.allocate(1000);
            DeviceBuffer b = pool.allocate(5000);
            assertTrue(a.address() % 256 == 0 && b.address() % 256 == 0);
            assertTrue(a.address() + 1000 <= b.address() || b.address() + 5000 <= a.address(), "disjoint");
            MemorySegment data = Gpu.random(arena, DType.F32, 250, new java.util.Random());
            s.copyFromHost(data, a, 0);
            s.copy(a, 0, b, 4000, 1000);
            MemorySegment back = arena.allocate(1000);
            s.copyToHost(b, 4000, back);
            s.synchronize();
            assertEquals(-1, data.mismatch(back));
            pool.release(a);
            pool.release(b);
            assertEquals(0, pool.stats().inUse());
        }
    }

    private static List<String> names() {
        return Collections.nCopies(N, "cuda:0");
    }

    private static void runAll(Topology topology, List<Algorithm> algorithms) {
        runAll(Gpu.device(), topology, algorithms);
    }

    /** Every collective of every algorithm on N ranks of {@code d}. */
    static void runAll(Device d, Topology topology, List<Algorithm> algorithms) {
        List<Device> devices = Collections.nCopies(N, d);
        List<DeviceStream> streams = new ArrayList<>();
        List<MemoryPool> scratch = new ArrayList<>();
        List<MemoryPool> staging = new ArrayList<>();
        for (int r = 0; r < N; r++) {
            streams.add(d.createStream());
            scratch.add(CarvingMemoryPool.create(d, 8 << 20));
            staging.add(CarvingMemoryPool.create(d, 8 << 20, CarvingMemoryPool.Source.PINNED_HOST));
        }
        try {
            long seq = 0;
            for (Algorithm algorithm : algorithms) {
                for (Collective c : Collective.values()) {
                    for (DType t : List.of(DType.F32, DType.BF16)) {
                        for (int count : new int[]{1, 1001, 65_536 + 3}) {
                            int root = c.rooted() ? N - 1 : 0;
                            Plan plan = Planners.plan(algorithm, new PlanRequest(c, topology, count, root, 2, 0));
                            ReduceOp op = c.reduces() ? (count % 2 == 0 ? ReduceOp.MAX : ReduceOp.SUM) : ReduceOp.SUM;
                            System.out.println("plan executor: " + algorithm + " " + c + " " + t + " " + count + " on " + topology.name());
                            try (PlanExecutor exec = new PlanExecutor(plan, t, devices, streams, scratch, staging::get, topology)) {
                                // twice back to back: the second run reuses flags, scratch and staging
                                for (int rep = 0; rep < 2; rep++) {
                                    check(exec, c, t, op, count, root, streams, ++seq, algorithm + " on " + topology.name());
                                }
                            }
                        }
                    }
                }
            }
        } finally {
            for (int r = 0; r < N; r++) {
                streams.get(r).close();
                scratch.get(r).close();
                staging.get(r).close();
            }
        }
    }

    private static void check(PlanExecutor exec, Collective c, DType t, ReduceOp op, int count, int root,
                              List<DeviceStream> streams, long seq, String what) {
        Device d = streams.get(0).device();
        int sendCount = (int) c.sendCount(count, N);
        int recvCount = (int) c.recvCount(count, N);
        float[][] send = RandomData.perRank(seq * 7919 + count, t, N, sendCount);
        float[][] expected = Reference.expected(c, t, op, root, send);
        DeviceBuffer[] sendBufs = new DeviceBuffer[N];
        DeviceBuffer[] recvBufs = new DeviceBuffer[N];
        try (Arena arena = Arena.ofShared()) {
            for (int r = 0; r < N; r++) {
                sendBufs[r] = d.allocate((long) sendCount * t.bytes());
                recvBufs[r] = d.allocate((long) recvCount * t.bytes());
                MemorySegment h = arena.allocate((long) sendCount * t.bytes());
                RandomData.write(h, t, send[r]);
                streams.get(r).copyFromHost(h, sendBufs[r], 0);
                streams.get(r).synchronize();
            }
            for (int r = 0; r < N; r++) {
                exec.enqueue(r, seq, op, sendBufs, recvBufs);
            }
            for (int r = 0; r < N; r++) {
                streams.get(r).synchronize();
            }
            for (int r = 0; r < N; r++) {
                if (expected[r] == null) {
                    continue;
                }
                MemorySegment h = arena.allocate((long) recvCount * t.bytes());
                streams.get(r).copyToHost(recvBufs[r], 0, h);
                streams.get(r).synchronize();
                float[] got = RandomData.read(h, t, recvCount);
                for (int i = 0; i < recvCount; i++) {
                    double tol = c.reduces() ? Reference.tolerance(t, op, N, Reference.absSum(send,
                            c == Collective.REDUCE_SCATTER ? (long) r * count + i : i)) : 0;
                    if (Math.abs(got[i] - expected[r][i]) > tol) {
                        throw new AssertionError(what + ": " + c + " " + t + " " + op + " count " + count + ", rank " + r
                                + " element " + i + ": expected " + expected[r][i] + ", got " + got[i]);
                    }
                }
            }
        } finally {
            for (int r = 0; r < N; r++) {
                if (sendBufs[r] != null) {
                    d.free(sendBufs[r]);
                }
                if (recvBufs[r] != null) {
                    d.free(recvBufs[r]);
                }
            }
        }
    }
}
