package io.cohort.group;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.plan.Algorithm;
import io.cohort.testing.RandomData;
import io.cohort.testing.Reference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every collective x every algorithm x 1..8 host devices x both plan backends (P2P over shared memory,
 * NATIVE through staging), checked against {@link Reference}. Sparse where it must be to stay fast: the
 * full dtype x op matrix runs at small sizes (0, 1, 7, 1009: odd, and not divisible by the rank counts),
 * 65537 runs for f32 SUM/AVG, and two 64 MiB all-reduces run in {@link #sixtyFourMiB}.
 *
 * <p>Tolerances: {@link Reference#tolerance} (derived there): plans round to the dtype after each of the
 * n-1 pairwise steps, the reference rounds once, so |plan - reference| <= (γ(n-1) + u) Σ|x| (+ the AVG and
 * f16 underflow terms), with u = 2^-24 for f32, 2^-11 for f16, 2^-8 for bf16. MAX, MIN, BROADCAST and
 * ALL_GATHER must be exact.
 */
class CollectiveCorrectnessTest {

    private static final int MAX_RANKS = 8;
    private static final long[] SMALL = {0, 1, 7, 1009};
    private static List<HostDevice> devices;

    @BeforeAll
    static void openDevices() {
        devices = HostDevices.open(MAX_RANKS, new HostDevice.Options(1L << 30, Duration.ofSeconds(30)));
    }

    @AfterAll
    static void closeDevices() {
        HostDevices.closeAll(devices);
    }

    static Stream<Arguments> groups() {
        List<Arguments> args = new ArrayList<>();
        for (int n = 1; n <= MAX_RANKS; n++) {
            for (BackendKind backend : new BackendKind[] {BackendKind.P2P, BackendKind.NATIVE}) {
                for (Algorithm algorithm : Algorithm.values()) {
                    args.add(Arguments.of(n, backend, algorithm));
                }
            }
        }
        return args.stream();
    }

    private static LocalGroup open(int n, BackendKind backend, Algorithm algorithm, long poolBytes) {
        Config config = ConfigFactory.parseString("cohort.algorithm.force = " + algorithm.cliName()
                + "\ncohort.pool.staging-capacity = " + poolBytes).withFallback(ConfigFactory.load());
        return LocalGroup.builder(devices.subList(0, n)).backend(backend).config(config).poolCapacity(poolBytes).open();
    }

    @ParameterizedTest(name = "{0} ranks, {1}, {2}")
    @MethodSource("groups")
    void everyCollectiveDtypeAndOp(int n, BackendKind backend, Algorithm algorithm) {
        try (LocalGroup group = open(n, backend, algorithm, 16L << 20)) {
            assertEquals(backend, group.backendChoice().chosen());
            long seed = n * 1000L + algorithm.ordinal() * 10L + backend.ordinal();
            for (Collective collective : Collective.values()) {
                for (DType dtype : DType.values()) {
                    List<ReduceOp> ops = collective.reduces() ? List.of(ReduceOp.values()) : List.of(ReduceOp.SUM);
                    for (ReduceOp op : ops) {
                        for (long count : SMALL) {
                            int root = (int) (count % n);
                            check(group, collective, dtype, op, count, root, false, seed++);
                        }
                        if (collective != Collective.REDUCE_SCATTER && collective != Collective.ALL_GATHER) {
                            check(group, collective, dtype, op, 33, n - 1, true, seed++);
                        }
                    }
                }
                for (ReduceOp op : collective.reduces() ? List.of(ReduceOp.SUM, ReduceOp.AVG) : List.of(ReduceOp.SUM)) {
                    check(group, collective, DType.F32, op, 65537, 0, false, seed++);
                }
            }
        }
    }

    @Test
    void sixtyFourMiB() {
        long count = 16L << 20; // f32: 64 MiB per rank
        try (LocalGroup group = open(4, BackendKind.P2P, Algorithm.RING, 160L << 20)) {
            check(group, Collective.ALL_REDUCE, DType.F32, ReduceOp.SUM, count, 0, false, 1);
        }
        try (LocalGroup group = open(2, BackendKind.NATIVE, Algorithm.ONE_SHOT, 160L << 20)) {
            check(group, Collective.ALL_REDUCE, DType.F32, ReduceOp.SUM, count, 0, true, 2);
        }
    }

    /** Runs one collective on fresh tensors (in place where asked) and compares every rank's result. */
    private static void check(LocalGroup group, Collective collective, DType dtype, ReduceOp op, long count, int root,
                              boolean inPlace, long seed) {
        int n = group.ranks();
        int sendCount = (int) collective.sendCount(count, n);
        int recvCount = (int) collective.recvCount(count, n);
        float[][] x = RandomData.perRank(seed, dtype, n, sendCount);
        Tensor[] send = new Tensor[n];
        Tensor[] recv = new Tensor[n];
        // odd counts leave out the buffers NCCL lets be null: non-roots' send in BROADCAST, recv in REDUCE
        boolean absent = !inPlace && count % 2 == 1;
        for (int r = 0; r < n; r++) {
            HostDevice d = devices.get(r);
            send[r] = new Tensor(d.allocate(Math.max(1, (long) sendCount * dtype.bytes())), dtype, sendCount);
            RandomData.write(send[r].buffer(), dtype, x[r]);
            recv[r] = inPlace ? send[r] : new Tensor(d.allocate(Math.max(1, (long) recvCount * dtype.bytes())), dtype, recvCount);
        }
        Tensor[] sendArg = send.clone();
        Tensor[] recvArg = recv.clone();
        for (int r = 0; r < n && absent; r++) {
            sendArg[r] = collective.usesSend(r, root) ? send[r] : null;
            recvArg[r] = collective.usesRecv(r, root) ? recv[r] : null;
        }
        String what = collective + " " + dtype + " " + op + " count " + count + " root " + root
                + (inPlace ? " in place" : absent ? " with unused buffers null" : "") + " on " + n + " ranks, "
                + group.backend();
        try {
            switch (collective) {
                case ALL_REDUCE -> group.allReduceSync(sendArg, recvArg, op);
                case REDUCE -> group.reduceSync(sendArg, recvArg, op, root);
                case BROADCAST -> group.broadcastSync(sendArg, recvArg, root);
                case REDUCE_SCATTER -> group.reduceScatterSync(sendArg, recvArg, op);
                case ALL_GATHER -> group.allGatherSync(sendArg, recvArg);
            }
        } catch (RuntimeException e) {
            throw new AssertionError(what + ": " + e.getMessage(), e);
        }
        float[][] want = Reference.expected(collective, dtype, op, root, x);
        for (int r = 0; r < n; r++) {
            if (want[r] == null) {
                continue; // REDUCE writes only the root
            }
            float[] got = RandomData.read(recv[r].buffer(), dtype, recvCount);
            for (int i = 0; i < recvCount; i++) {
                double tol = 0;
                if (collective.reduces()) {
                    long at = collective == Collective.REDUCE_SCATTER ? (long) r * count + i : i;
                    tol = Reference.tolerance(dtype, op, n, Reference.absSum(x, at));
                }
                if (!(Math.abs(got[i] - want[r][i]) <= tol)) {
                    fail(what + ": rank " + r + " element " + i + " is " + got[i] + ", expected " + want[r][i]
                            + " (tolerance " + tol + ")");
                }
            }
        }
        for (int r = 0; r < n; r++) {
            HostDevice d = devices.get(r);
            d.free(send[r].buffer());
            if (!inPlace) {
                d.free(recv[r].buffer());
            }
        }
    }
}
