package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.Tensor;
import io.cohort.group.CollectiveResult;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Several ranks on one device through the Cohort API ({@code host:0*2}, {@code host:0*4}): each rank on a lane of
 * its own (stream, pool, actor), checked against the runtime's independent {@link Reference}.
 */
class SharedDevicesThroughActorsTest {

    Cohort cohort;

    @BeforeEach
    void start() {
        cohort = Cohort.start(ConfigFactory.load());
    }

    @AfterEach
    void stop() {
        cohort.close();
    }

    @ParameterizedTest(name = "{0}, {1}")
    @CsvSource({"host:0*2, P2P", "host:0*2, NATIVE", "host:0*2, AUTO", "host:0*4, P2P", "host:0*4, NATIVE",
            "host:0*4, AUTO"})
    void allReduceAllGatherAndReduceScatterMatchTheReference(String spec, BackendKind kind) {
        List<Device> devices = cohort.devices(spec);
        assertEquals(1, devices.stream().distinct().count(), "one device at every rank");
        CohortGroup g = cohort.group(devices, kind);
        try {
            for (int round = 0; round < 3; round++) { // back to back: the lanes' flags advance together
                for (Collective c : List.of(Collective.ALL_REDUCE, Collective.ALL_GATHER, Collective.REDUCE_SCATTER)) {
                    check(g, c, 1031 + round, round);
                }
            }
        } finally {
            g.close();
        }
    }

    @Test
    void eachRankHasAPoolOfItsOwn() {
        CohortGroup g = cohort.group(cohort.devices("host:0*2"), BackendKind.P2P);
        try {
            long capacity = g.poolStats(0).capacity();
            assertEquals(capacity, g.poolStats(1).capacity());
            // more than half a pool per rank: fits only if each rank has a pool of its own
            int count = (int) (capacity * 3 / 4 / DType.F32.bytes());
            List<Tensor> t = g.allocate(DType.F32, count);
            for (int r = 0; r < 2; r++) {
                assertTrue(g.poolStats(r).inUse() >= 4L * count, "rank " + r + ": " + g.poolStats(r));
            }
            g.release(t);
            check(g, Collective.ALL_REDUCE, 4096, 7);
        } finally {
            g.close();
        }
    }

    @Test
    void closingASharedGroupLeavesTheOthersWorking() {
        List<Device> shared = cohort.devices("host:0*2");
        CohortGroup first = cohort.group(shared, BackendKind.P2P);
        CohortGroup sameLanes = cohort.group(shared, BackendKind.NATIVE);
        CohortGroup oneLane = cohort.group(shared.subList(0, 1), BackendKind.AUTO);
        CohortGroup other = cohort.group(cohort.devices("host:0*4"), BackendKind.P2P);
        check(first, Collective.ALL_REDUCE, 500, 1);
        first.close();
        CohortException closed = assertThrows(CohortException.class, first::barrier);
        assertEquals("group " + groupId(first) + " is closed", closed.getMessage());
        for (CohortGroup g : List.of(sameLanes, oneLane, other)) {
            check(g, Collective.ALL_REDUCE, 777, 2);
            check(g, Collective.ALL_GATHER, 333, 3);
            g.close();
        }
    }

    @Test
    void badSpecsFailInOneLine() {
        assertOneLine("rank count must be 1..8 in 'host:0*0'", "host:0*0");
        assertOneLine("rank count must be 1..8 in 'host:0*9'", "host:0*9");
        assertOneLine("bad rank count 'x' in 'host:0*x' (expected host:N, cuda, cuda:N, cuda:D*R (R ranks on device D)"
                + " or auto)", "host:0*x");
        assertOneLine("bad device ordinal '' in 'host:*2' (expected host:N, cuda, cuda:N, cuda:D*R (R ranks on device D)"
                + " or auto)", "host:*2");
    }

    @Test
    void aDeviceListedTwiceWithoutASharedSpecIsRefused() {
        List<Device> two = cohort.devices("host:2");
        CohortException e = assertThrows(CohortException.class,
                () -> cohort.group(List.of(two.get(0), two.get(1), two.get(0)), BackendKind.AUTO));
        assertEquals("host:0 is rank 0 and rank 2 of one group (for several ranks on one device open them with a spec"
                + " such as host:0*2)", e.getMessage());
    }

    private void assertOneLine(String expected, String spec) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cohort.devices(spec));
        assertEquals(expected, e.getMessage());
    }

    private static int groupId(CohortGroup g) {
        String s = g.toString(); // CohortGroup[<id>: ...]
        return Integer.parseInt(s.substring(s.indexOf('[') + 1, s.indexOf(':')));
    }

    /** One collective with random f32 inputs on fresh tensors, every rank's result against the reference. */
    private static void check(CohortGroup g, Collective collective, int count, long seed) {
        int n = g.size();
        int sendCount = (int) collective.sendCount(count, n);
        int recvCount = (int) collective.recvCount(count, n);
        float[][] input = RandomData.perRank(seed * 100 + collective.ordinal(), DType.F32, n, sendCount);
        List<Tensor> send = g.allocate(DType.F32, sendCount);
        List<Tensor> recv = g.allocate(DType.F32, recvCount);
        try {
            for (int r = 0; r < n; r++) {
                assertSame(g.devices().getFirst(), g.devices().get(r));
                RandomData.write(send.get(r).buffer(), DType.F32, input[r]);
            }
            CollectiveResult result = (switch (collective) {
                case ALL_REDUCE -> g.allReduce(send, recv, ReduceOp.SUM);
                case ALL_GATHER -> g.allGather(send, recv);
                case REDUCE_SCATTER -> g.reduceScatter(send, recv, ReduceOp.SUM);
                default -> throw new IllegalArgumentException(collective.cliName());
            }).toCompletableFuture().join();
            assertEquals(collective, result.collective());
            float[][] expected = Reference.expected(collective, DType.F32, ReduceOp.SUM, 0, input);
            for (int r = 0; r < n; r++) {
                float[] got = RandomData.read(recv.get(r).buffer(), DType.F32, recvCount);
                for (int i = 0; i < recvCount; i++) {
                    long at = collective == Collective.REDUCE_SCATTER ? (long) r * count + i : i;
                    double tol = collective.reduces()
                            ? Reference.tolerance(DType.F32, ReduceOp.SUM, n, Reference.absSum(input, at)) : 0;
                    if (Math.abs(got[i] - expected[r][i]) > tol) {
                        throw new AssertionError(collective.cliName() + " on " + g + " rank " + r + " element " + i
                                + ": got " + got[i] + ", expected " + expected[r][i] + " (tolerance " + tol + ")");
                    }
                }
            }
        } finally {
            g.release(send);
            g.release(recv);
        }
    }
}
