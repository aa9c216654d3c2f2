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
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.topology.Link;
import io.cohort.topology.Topology;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.IntStream;

/**
 * One process of a cross-process group on host devices: {@code local} ranks (process p holds ranks p*local ..),
 * the backend found through ServiceLoader, every collective for every dtype, checked against the reference.
 */
final class BackendScenario {

    private BackendScenario() {
    }

    static int run(String group, int process, int processes, int local, String baseDir, String channel) {
        List<HostDevice> devices = HostDevices.open(local,
                HostDevice.Options.defaults().withTotalMemory(256L << 20).withWaitTimeout(Duration.ofSeconds(20)));
        try {
            return runOn(devices, group, process, processes, baseDir, channel);
        } finally {
            HostDevices.closeAll(devices);
        }
    }

    /** The scenario on any devices (host or CUDA): data moves in and out with copyFromHost / copyToHost. */
    static int runOn(List<? extends Device> devices, String group, int process, int processes, String baseDir,
                     String channel) {
        int local = devices.size();
        int ranksTotal = processes * local;
        List<RankContext> ranks = new ArrayList<>();
        for (int i = 0; i < local; i++) {
            ranks.add(new RankContext(process * local + i, devices.get(i), devices.get(i).createStream(), null));
        }
        try {
            var config = ConfigFactory.parseMap(Map.of("transport.group", group, "transport.rank", process,
                    "transport.size", processes, "transport.base-dir", baseDir, "transport.channel", channel,
                    "transport.progress-timeout", "10s"));
            Topology topology = Topology.uniform(group,
                    IntStream.range(0, ranksTotal).mapToObj(r -> "p" + r / local + ":dev:" + r % local).toList(),
                    Link.self().withoutP2p());
            GroupContext context = new GroupContext(topology, ranks, config);
            BackendProvider provider = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
                    .filter(p -> p instanceof ProcessGroupBackendProvider).findFirst().orElseThrow();
            assertEquals(BackendKind.NATIVE, provider.kind());
            assertTrue(provider.unavailableReason(context).isEmpty());
            try (CollectiveBackend backend = provider.create(context)) {
                assertEquals(ranksTotal, backend.ranks());
                int foreign = (process + 1) % processes * local;
                assertThrows(CohortException.class, () -> backend.enqueue(foreign, 1,
                        CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1), null, null));
                return runCollectives(backend, ranks, ranksTotal);
            }
        } finally {
            for (RankContext rc : ranks) {
                rc.stream().close();
            }
        }
    }

    /**
     * All-reduces until the group fails (a peer process is killed), then reports what the next enqueue says: the
     * error must name the dead rank. One host device per process, short stream wait timeout.
     */
    static String loopUntilFailure(String group, int process, int processes, String baseDir, Runnable ready) {
        List<HostDevice> devices = HostDevices.open(1,
                HostDevice.Options.defaults().withTotalMemory(64L << 20).withWaitTimeout(Duration.ofSeconds(3)));
        try {
            RankContext rc = new RankContext(process, devices.get(0), devices.get(0).createStream(), null);
            var config = ConfigFactory.parseMap(Map.of("transport.group", group, "transport.rank", process,
                    "transport.size", processes, "transport.base-dir", baseDir, "transport.progress-timeout", "5s"));
            Topology topology = Topology.uniform(group,
                    IntStream.range(0, processes).mapToObj(r -> "p" + r + ":host:0").toList(), Link.self().withoutP2p());
            try (CollectiveBackend backend = new ProcessGroupBackendProvider()
                    .create(new GroupContext(topology, List.of(rc), config))) {
                CollectiveCall call = CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1 << 18);
                DeviceBuffer buf = rc.device().allocate(call.sendBytes(processes));
                long seq = 0;
                try {
                    while (true) {
                        backend.enqueue(process, ++seq, call, buf, buf);
                        rc.stream().synchronize();
                        if (seq == 1) {
                            ready.run();
                        }
                    }
                } catch (RuntimeException streamFailure) {
                    try {
                        backend.enqueue(process, ++seq, call, buf, buf);
                        return "no error after " + streamFailure;
                    } catch (CohortException e) {
                        return e.getMessage();
                    }
                }
            }
        } finally {
            HostDevices.closeAll(devices);
        }
    }

    private static int runCollectives(CollectiveBackend backend, List<RankContext> ranks, int ranksTotal) {
        int cases = 0;
        long seq = 0;
        try (Arena arena = Arena.ofShared()) { // streams copy from and to it on their own threads
            for (long count : new long[] {1, 1009}) {
                for (DType type : DType.values()) {
                    for (Collective c : Collective.values()) {
                        ReduceOp op = ReduceOp.values()[(int) (seq % ReduceOp.values().length)];
                        int root = (int) (seq % ranksTotal);
                        CollectiveCall call = new CollectiveCall(c, type, op, count, root);
                        seq++;
                        long seed = 500 + seq;
                        long sendBytes = Math.max(1, call.sendBytes(ranksTotal));
                        long recvBytes = Math.max(1, call.recvBytes(ranksTotal));
                        List<DeviceBuffer> sends = new ArrayList<>();
                        List<DeviceBuffer> recvs = new ArrayList<>();
                        List<MemorySegment> outs = new ArrayList<>();
                        for (RankContext rc : ranks) {
                            MemorySegment in = arena.allocate(sendBytes, 64);
                            Scenarios.fill(in, type, seed, rc.rank(), c.sendCount(count, ranksTotal));
                            MemorySegment marker = arena.allocate(recvBytes, 64);
                            marker.fill((byte) 0x11);
                            DeviceBuffer send = rc.device().allocate(sendBytes);
                            DeviceBuffer recv = rc.device().allocate(recvBytes);
                            rc.stream().copyFromHost(in, send, 0);
                            rc.stream().copyFromHost(marker, recv, 0);
                            sends.add(send);
                            recvs.add(recv);
                            outs.add(arena.allocate(recvBytes, 64));
                        }
                        for (int i = ranks.size() - 1; i >= 0; i--) { // any order
                            backend.enqueue(ranks.get(i).rank(), seq, call, sends.get(i), recvs.get(i));
                        }
                        for (int i = 0; i < ranks.size(); i++) {
                            ranks.get(i).stream().copyToHost(recvs.get(i), 0, outs.get(i));
                            ranks.get(i).stream().synchronize();
                        }
                        for (int i = 0; i < ranks.size(); i++) {
                            check(call, ranks.get(i).rank(), outs.get(i), seed, ranksTotal, backend.describe(call));
                            ranks.get(i).device().free(sends.get(i));
                            ranks.get(i).device().free(recvs.get(i));
                        }
                        cases++;
                    }
                }
            }
        }
        return cases;
    }

    private static void check(CollectiveCall call, int rank, MemorySegment seg, long seed, int n, String how) {
        long count = call.count();
        DType type = call.dtype();
        String what = "rank " + rank + " " + call + " via " + how;
        switch (call.collective()) {
            case ALL_REDUCE -> {
                for (long i = 0; i < count; i++) {
                    Scenarios.checkReduced(seg, i, type, call.op(), seed, n, i, what);
                }
            }
            case REDUCE -> {
                if (rank == call.root()) {
                    for (long i = 0; i < count; i++) {
                        Scenarios.checkReduced(seg, i, type, call.op(), seed, n, i, what);
                    }
                } else {
                    assertEquals(0x11, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0), what + ": recv written");
                }
            }
            case REDUCE_SCATTER -> {
                for (long i = 0; i < count; i++) {
                    Scenarios.checkReduced(seg, i, type, call.op(), seed, n, rank * count + i, what);
                }
            }
            case ALL_GATHER -> {
                for (int r = 0; r < n; r++) {
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
