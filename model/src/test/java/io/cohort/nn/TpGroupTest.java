package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.BackendKind;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.group.LocalGroup;
import io.cohort.nn.host.HostTensorOps;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** SPMD all-reduce: results, and failures that end in an error naming the rank instead of a hang. */
class TpGroupTest {
    private final List<HostDevice> devices = HostDevices.open(3);
    private final TensorOps[] ops = devices.stream().map(d -> new HostTensorOps(d, 1)).toArray(TensorOps[]::new);

    @AfterEach
    void close() {
        for (TensorOps o : ops) {
            o.close();
        }
        HostDevices.closeAll(devices);
    }

    @Test
    void everyRankGetsTheSumRepeatedly() {
        TpGroup group = new TpGroup(new HostAllReduce(3), ops, Duration.ofSeconds(10));
        try (RankThreads threads = new RankThreads(3, "t", Duration.ofSeconds(10), group::abort)) {
            List<float[]> results = threads.onEveryRank(r -> {
                Matrix m = ops[r].allocate(DType.F32, 1, 4);
                float[] out = new float[8];
                for (int round = 0; round < 2; round++) {
                    for (int i = 0; i < 4; i++) {
                        DType.F32.set(m.buffer().segment(), i, r * 10 + i + round);
                    }
                    group.comm(r).allReduceSum(m.tensor());
                    for (int i = 0; i < 4; i++) {
                        out[round * 4 + i] = DType.F32.get(m.buffer().segment(), i);
                    }
                }
                return out;
            });
            for (float[] r : results) {
                for (int i = 0; i < 4; i++) {
                    assertEquals(30 + 3 * i, r[i]);
                    assertEquals(33 + 3 * i, r[4 + i]);
                }
            }
            assertEquals(2, group.allReduces());
        }
    }

    /** Host ops that leave the wait for a collective's result to the caller: what an asynchronous device does. */
    private static final class DeferredOps extends ForwardingTensorOps {
        DeferredOps(TensorOps d) {
            super(d);
        }

        @Override
        public void orderAfter(io.cohort.device.DeviceStream s) { }

        @Override
        public void synchronize() { throw new AssertionError("stream-ordered all-reduces synchronized the ops"); }
    }

    /**
     * Stream-ordered: rank 0 enqueues all its all-reduces and returns before rank 1 has begun (no host barrier);
     * the streams then meet on their own and every rank has the sums.
     */
    @Test
    void streamOrderedRanksNeverMeetOnTheHost() {
        List<HostDevice> two = devices.subList(0, 2);
        TensorOps[] deferred = {new DeferredOps(ops[0]), new DeferredOps(ops[1])};
        try (LocalGroup local = LocalGroup.builder(two).backend(BackendKind.NATIVE).open()) {
            TpGroup group = new TpGroup(new LocalGroupAllReduce(local), deferred, Duration.ofSeconds(10));
            assertTrue(group.streamOrdered());
            Matrix[] m = {ops[0].allocate(DType.F32, 1, 4), ops[1].allocate(DType.F32, 1, 4)};
            for (int r = 0; r < 2; r++) {
                for (int i = 0; i < 4; i++) {
                    DType.F32.set(m[r].buffer().segment(), i, r * 10 + i);
                }
            }
            for (int round = 0; round < 5; round++) {
                group.comm(0).allReduceSum(m[0].tensor()); // returns at once: rank 1 has enqueued nothing yet
            }
            assertEquals(5, group.allReduces());
            for (int round = 0; round < 5; round++) {
                group.comm(1).allReduceSum(m[1].tensor());
            }
            local.synchronize();
            for (int r = 0; r < 2; r++) {
                for (int i = 0; i < 4; i++) {
                    // 5 in-place rounds: 2^4 * (i + 10 + i)
                    assertEquals(16f * (10 + 2 * i), DType.F32.get(m[r].buffer().segment(), i), "rank " + r + " element " + i);
                }
            }
        }
    }

    @Test
    void aRankThatNeverArrivesTimesOutWithItsPeersNamed() {
        TpGroup group = new TpGroup(new HostAllReduce(3), ops, Duration.ofMillis(300));
        try (RankThreads threads = new RankThreads(3, "t", Duration.ofSeconds(10), group::abort)) {
            CohortException e = assertThrows(CohortException.class, () -> threads.onEveryRank(r -> {
                if (r != 2) {
                    group.comm(r).allReduceSum(ops[r].allocate(DType.F32, 1, 1).tensor());
                }
                return null;
            }));
            assertTrue(e.getMessage().contains("timed out") || e.getMessage().contains("abandoned"), e.getMessage());
            assertTrue(e.getMessage().contains("rank "), e.getMessage());
        }
    }

    @Test
    void aFailingRankReleasesTheOthersAndIsTheOneReported() {
        TpGroup group = new TpGroup(new HostAllReduce(3), ops, Duration.ofSeconds(60));
        try (RankThreads threads = new RankThreads(3, "t", Duration.ofSeconds(60), group::abort)) {
            long start = System.nanoTime();
            CohortException e = assertThrows(CohortException.class, () -> threads.onEveryRank(r -> {
                if (r == 1) {
                    throw new IllegalStateException("rank one broke");
                }
                group.comm(r).allReduceSum(ops[r].allocate(DType.F32, 1, 1).tensor());
                return null;
            }));
            assertTrue(e.getMessage().contains("rank 1 failed: rank one broke"), e.getMessage());
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(30).toNanos(), "others waited for the timeout");
        }
    }

    /** A stream-ordered group (native, host devices) that offers every rank a GEMV epilogue and counts its binds. */
    private static final class EpilogueGroup implements StreamOrderedAllReduce {
        final LocalGroupAllReduce inner;
        final int[] binds = new int[2];

        EpilogueGroup(LocalGroup local) {
            this.inner = new LocalGroupAllReduce(local);
        }

        public int size() { return inner.size(); }
        public void allReduceSum(io.cohort.device.Tensor[] perRank) { inner.allReduceSum(perRank); }
        public String describe() { return "epilogue test group"; }
        public io.cohort.device.DeviceStream stream(int rank) { return inner.stream(rank); }
        public void enqueue(int rank, io.cohort.device.Tensor tensor) { inner.enqueue(rank, tensor); }
        @Override
        public boolean fusesAddRmsNorm(int rows, int cols) { return true; }
        @Override
        public AllReduceEpilogue addRmsNormEpilogue(int rank) {
            return new AllReduceEpilogue() {
                public long argumentBytes() { return 8; }
                public void bind(java.lang.foreign.MemorySegment args, boolean graph, Matrix residual, RmsNorm norm,
                                 Matrix normed) {
                    binds[rank]++;
                }
            };
        }
    }

    /** Ops whose row-parallel GEMV takes the collective as its epilogue (binds it, as a device kernel would), or fails. */
    private static final class EpilogueOps extends ForwardingTensorOps {
        final boolean fail;

        EpilogueOps(TensorOps d, boolean fail) {
            super(d);
            this.fail = fail;
        }

        @Override
        public boolean matmulTAllReduceAddRmsNorm(Matrix x, Matrix w, Matrix residual, RmsNorm norm, Matrix normed,
                                                  AllReduceEpilogue allReduce) {
            if (fail) {
                throw new IllegalStateException("launch refused");
            }
            allReduce.bind(null, false, residual, norm, normed);
            return true;
        }
    }

    /**
     * The GEMV epilogue seam: where the ops take it, one call binds the collective, numbered like the others and
     * counted as run in a kernel; where they do not (host ops), nothing is bound or counted and the layer falls back;
     * a failing launch breaks the group for the collectives after it, naming the call and the rank.
     */
    @Test
    void theAllReduceAsAGemvEpilogueIsNumberedLikeTheOthers() {
        List<HostDevice> two = devices.subList(0, 2);
        try (LocalGroup local = LocalGroup.builder(two).backend(BackendKind.NATIVE).open()) {
            Matrix x = ops[0].allocate(DType.F32, 1, 4), w = ops[0].allocate(DType.F32, 4, 4);
            Matrix res = ops[0].allocate(DType.F32, 1, 4), nrm = ops[0].allocate(DType.F32, 1, 4);
            RmsNorm norm = new RmsNorm(ops[0].allocate(DType.F32, 1, 4), 1e-5f);

            EpilogueGroup g = new EpilogueGroup(local);
            TpGroup taking = new TpGroup(g, new TensorOps[] {new EpilogueOps(ops[0], false), new EpilogueOps(ops[1], false)},
                    Duration.ofSeconds(10));
            assertTrue(taking.comm(0).matmulTAllReduceAddRmsNorm(new EpilogueOps(ops[0], false), x, w, res, norm, nrm));
            assertEquals(1, taking.allReduces());
            assertEquals(1, taking.allReducesInKernels());
            assertEquals(1, g.binds[0]);

            EpilogueGroup h = new EpilogueGroup(local);
            TpGroup host = new TpGroup(h, new TensorOps[] {ops[0], ops[1]}, Duration.ofSeconds(10));
            assertTrue(!host.comm(0).matmulTAllReduceAddRmsNorm(ops[0], x, w, res, norm, nrm), "host ops took it");
            assertEquals(0, host.allReduces());
            assertEquals(0, h.binds[0]);

            EpilogueGroup f = new EpilogueGroup(local);
            TpGroup failing = new TpGroup(f, new TensorOps[] {ops[0], ops[1]}, Duration.ofSeconds(10));
            CohortException e = assertThrows(CohortException.class,
                    () -> failing.comm(1).matmulTAllReduceAddRmsNorm(new EpilogueOps(ops[1], true), x, w, res, norm, nrm));
            assertTrue(e.getMessage().equals("rank 1: all-reduce #1 failed: launch refused"), e.getMessage());
            CohortException after = assertThrows(CohortException.class,
                    () -> failing.comm(0).matmulTAllReduceAddRmsNorm(new EpilogueOps(ops[0], false), x, w, res, norm, nrm));
            assertTrue(after.getMessage().contains("abandoned: group failed in all-reduce #1 on rank 1"), after.getMessage());
        }
    }
}
