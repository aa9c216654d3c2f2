package io.cohort.cuda.p2p;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.BackendChoice;
import io.cohort.backend.BackendKind;
import io.cohort.backend.Backends;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.Gpu;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.Tensor;
import io.cohort.group.LocalGroup;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Collectives other than all-reduce through the cuda-p2p backend (delegated to the plan-based P2P backend)
 * on 4 virtual ranks driven from one thread, and a LocalGroup on the GPU choosing cuda-p2p by itself.
 */
@Tag("gpu")
class P2pOtherCollectivesTest {

    @Test
    void everyCollectiveFromOneThread() {
        try (VirtualGroup g = new VirtualGroup(Gpu.device(), 4, "")) {
            everyCollective(g, g.backend);
        }
    }

    @Test
    void forcedNativePlanBackendOnCudaRanks() {
        try (VirtualGroup g = new VirtualGroup(Gpu.device(), 4, "")) {
            BackendChoice choice = Backends.choose(BackendKind.NATIVE, g.group);
            assertEquals(BackendKind.NATIVE, choice.chosen(), choice.toString());
            try (CollectiveBackend nativeBackend = choice.create(g.group)) {
                assertTrue(nativeBackend.describe(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1000)).startsWith("native"),
                        nativeBackend.describe(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1000)));
                everyCollective(g, nativeBackend);
            }
        }
    }

    private static void everyCollective(VirtualGroup g, CollectiveBackend backend) {
        CudaDevice d = g.devices.get(0);
        int n = g.n();
        {
            long seq = 0;
            for (Collective c : Collective.values()) {
                for (DType t : List.of(DType.F32, DType.BF16)) {
                    for (int count : new int[]{1, 999, 50_000}) {
                        int root = c.rooted() ? 1 : 0;
                        ReduceOp op = ReduceOp.SUM;
                        int sendCount = (int) c.sendCount(count, n);
                        int recvCount = (int) c.recvCount(count, n);
                        float[][] send = RandomData.perRank(++seq + count, t, n, sendCount);
                        float[][] expected = Reference.expected(c, t, op, root, send);
                        DeviceBuffer[] s = new DeviceBuffer[n];
                        DeviceBuffer[] r = new DeviceBuffer[n];
                        try (Arena arena = Arena.ofConfined()) {
                            for (int k = 0; k < n; k++) {
                                s[k] = d.allocate((long) sendCount * t.bytes());
                                r[k] = d.allocate((long) recvCount * t.bytes());
                                MemorySegment h = arena.allocate((long) sendCount * t.bytes());
                                RandomData.write(h, t, send[k]);
                                g.streams.get(k).copyFromHost(h, s[k], 0);
                                g.streams.get(k).synchronize();
                            }
                            backend.enqueueAll(seq, new CollectiveCall(c, t, op, count, root), s, r);
                            g.synchronize();
                            for (int k = 0; k < n; k++) {
                                if (expected[k] == null) {
                                    continue;
                                }
                                MemorySegment h = arena.allocate((long) recvCount * t.bytes());
                                g.streams.get(k).copyToHost(r[k], 0, h);
                                g.streams.get(k).synchronize();
                                float[] got = RandomData.read(h, t, recvCount);
                                for (int i = 0; i < recvCount; i++) {
                                    double tol = c.reduces() ? Reference.tolerance(t, op, n, Reference.absSum(send,
                                            c == Collective.REDUCE_SCATTER ? (long) k * count + i : i)) : 0;
                                    if (Math.abs(got[i] - expected[k][i]) > tol) {
                                        throw new AssertionError(c + " " + t + " count " + count + " rank " + k + " element "
                                                + i + ": expected " + expected[k][i] + ", got " + got[i] + " ("
                                                + backend.describe(new CollectiveCall(c, t, op, count, root)) + ")");
                                    }
                                }
                            }
                        } finally {
                            for (int k = 0; k < n; k++) {
                                d.free(s[k]);
                                d.free(r[k]);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void aLocalGroupOnTheGpuChoosesTheP2pKernels() {
        CudaDevice d = Gpu.device();
        try (LocalGroup group = LocalGroup.open(List.of(d)); Arena arena = Arena.ofConfined()) {
            assertEquals(BackendKind.P2P, group.backendChoice().chosen());
            assertTrue(group.backendChoice().provider() instanceof CudaP2pBackendProvider, group.backendChoice().toString());
            int count = 10_001;
            DeviceBuffer buf = d.allocate(count * 4L);
            try {
                float[] x = RandomData.perRank(5, DType.F32, 1, count)[0];
                MemorySegment h = arena.allocate(count * 4L);
                RandomData.write(h, DType.F32, x);
                group.stream(0).copyFromHost(h, buf, 0);
                group.allReduceSync(new Tensor[]{new Tensor(buf, DType.F32, count)}, ReduceOp.SUM);
                group.stream(0).copyToHost(buf, 0, h);
                group.stream(0).synchronize();
                float[] got = RandomData.read(h, DType.F32, count);
                for (int i = 0; i < count; i++) {
                    assertEquals(x[i], got[i], "one rank: all-reduce is the identity");
                }
                DeviceBuffer out = d.allocate(count * 4L);
                try {
                    group.allReduceSync(new Tensor[]{new Tensor(buf, DType.F32, count)},
                            new Tensor[]{new Tensor(out, DType.F32, count)}, ReduceOp.AVG);
                    group.stream(0).copyToHost(out, 0, h);
                    group.stream(0).synchronize();
                    got = RandomData.read(h, DType.F32, count);
                    for (int i = 0; i < count; i++) {
                        assertEquals(x[i], got[i], "one rank, out of place: a copy");
                    }
                } finally {
                    d.free(out);
                }
                System.out.println("LocalGroup on " + d.name() + ": " + group.backendChoice());
            } finally {
                d.free(buf);
            }
        }
    }
}
