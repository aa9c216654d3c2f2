package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
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
}
