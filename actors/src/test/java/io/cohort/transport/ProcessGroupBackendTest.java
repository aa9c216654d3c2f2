package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.Collective;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.topology.Link;
import io.cohort.topology.Topology;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two "processes" (threads with their own process group and host devices) holding two ranks each: a group of
 * four ranks whose collectives go local reduce, then Aeron, then back to every rank's device buffer.
 */
class ProcessGroupBackendTest {

    private static final int PROCESSES = 2;
    private static final int LOCAL = 2;
    private static final int RANKS = PROCESSES * LOCAL;

    @TempDir
    Path dir;

    @Test
    void everyCollectiveAcrossTwoProcessesOfTwoRanks() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(PROCESSES);
        try {
            List<Future<Integer>> futures = new ArrayList<>();
            for (int p = 0; p < PROCESSES; p++) {
                int process = p;
                futures.add(pool.submit(() -> runProcess(process)));
            }
            for (Future<Integer> f : futures) {
                assertTrue(f.get(60, TimeUnit.SECONDS) > 0);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private int runProcess(int process) {
        List<HostDevice> devices = HostDevices.open(LOCAL,
                HostDevice.Options.defaults().withTotalMemory(256L << 20).withWaitTimeout(Duration.ofSeconds(20)));
        try {
            List<RankContext> ranks = new ArrayList<>();
            for (int i = 0; i < LOCAL; i++) {
                ranks.add(new RankContext(process * LOCAL + i, devices.get(i), devices.get(i).createStream(), null));
            }
            var config = ConfigFactory.parseMap(Map.of("transport.group", "backend-test", "transport.rank", process,
                    "transport.size", PROCESSES, "transport.base-dir", dir.toString(),
                    "transport.progress-timeout", "10s"));
            Topology topology = Topology.uniform("test", IntStream.range(0, RANKS).mapToObj(r -> "host:" + r).toList(),
                    Link.self().withoutP2p());
            GroupContext context = new GroupContext(topology, ranks, config);
            BackendProvider provider = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
                    .filter(pr -> pr instanceof ProcessGroupBackendProvider).findFirst().orElseThrow();
            assertEquals(BackendKind.NATIVE, provider.kind());
            assertTrue(provider.unavailableReason(context).isEmpty());
            try (CollectiveBackend backend = provider.create(context)) {
                assertEquals(RANKS, backend.ranks());
                assertThrows(CohortException.class, () -> backend.enqueue((process + 1) % PROCESSES * LOCAL, 1,
                        CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1), null, null));
                return runCollectives(backend, ranks);
            }
        } finally {
            HostDevices.closeAll(devices);
        }
    }

    private int runCollectives(CollectiveBackend backend, List<RankContext> ranks) {
        int cases = 0;
        long seq = 0;
        long count = 1009;
        for (DType type : DType.values()) {
            for (Collective c : Collective.values()) {
                ReduceOp op = (seq & 1) == 0 ? ReduceOp.SUM : ReduceOp.AVG;
                int root = (int) (seq % RANKS);
                CollectiveCall call = new CollectiveCall(c, type, op, count, root);
                seq++;
                long seed = 500 + seq;
                List<DeviceBuffer> sends = new ArrayList<>();
                List<DeviceBuffer> recvs = new ArrayList<>();
                for (RankContext rc : ranks) {
                    DeviceBuffer send = rc.device().allocate(Math.max(1, call.sendBytes(RANKS)));
                    DeviceBuffer recv = rc.device().allocate(Math.max(1, call.recvBytes(RANKS)));
                    Scenarios.fill(send.segment(), type, seed, rc.rank(), c.sendCount(count, RANKS));
                    recv.segment().fill((byte) 0x11);
                    sends.add(send);
                    recvs.add(recv);
                }
                for (int i = ranks.size() - 1; i >= 0; i--) { // any order
                    backend.enqueue(ranks.get(i).rank(), seq, call, sends.get(i), recvs.get(i));
                }
                for (RankContext rc : ranks) {
                    rc.stream().synchronize();
                }
                for (int i = 0; i < ranks.size(); i++) {
                    check(call, ranks.get(i).rank(), recvs.get(i), seed, backend.describe(call));
                    ranks.get(i).device().free(sends.get(i));
                    ranks.get(i).device().free(recvs.get(i));
                }
                cases++;
            }
        }
        return cases;
    }

    private static void check(CollectiveCall call, int rank, DeviceBuffer recv, long seed, String how) {
        var seg = recv.segment();
        long count = call.count();
        DType type = call.dtype();
        String what = "rank " + rank + " " + call + " via " + how;
        switch (call.collective()) {
            case ALL_REDUCE -> {
                for (long i = 0; i < count; i++) {
                    Scenarios.checkReduced(seg, i, type, call.op(), seed, RANKS, i, what);
                }
            }
            case REDUCE -> {
                if (rank == call.root()) {
                    for (long i = 0; i < count; i++) {
                        Scenarios.checkReduced(seg, i, type, call.op(), seed, RANKS, i, what);
                    }
                } else {
                    assertEquals(0x11, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0), what + ": recv written");
                }
            }
            case REDUCE_SCATTER -> {
                for (long i = 0; i < count; i++) {
                    Scenarios.checkReduced(seg, i, type, call.op(), seed, RANKS, rank * count + i, what);
                }
            }
            case ALL_GATHER -> {
                for (int r = 0; r < RANKS; r++) {
                    for (long i = 0; i < count; i++) {
                        Scenarios.checkInput(seg, r * count + i, type, seed, r, i, what);
                    }
                }
            }
            case BROADCAST -> {
                for (long i = 0; i < count; i++) {
                    Scenarios.checkInput(seg, i, type, seed, call.root(), i, what);
                }
            }
        }
    }
}
