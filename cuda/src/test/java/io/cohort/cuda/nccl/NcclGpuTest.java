package io.cohort.cuda.nccl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.CudaStream;
import io.cohort.device.DeviceBuffer;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The real libnccl on real GPUs: every collective, dtype and operator through {@link NcclBackend} on every GPU
 * of the machine (one rank each, on Cohort's {@link CudaDevice}; with one GPU that is trivial for NCCL but runs
 * the whole binding), against the closed-form reference. Skipped where NCCL or a GPU is missing.
 */
@Tag("gpu")
class NcclGpuTest {

    private static final Logger LOG = LoggerFactory.getLogger(NcclGpuTest.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static NcclLibrary nccl;
    private static int gpus;

    @BeforeAll
    static void needsNcclAndAGpu() {
        try {
            nccl = NcclLibrary.load(NcclSettings.defaults());
        } catch (NcclUnavailableException e) {
            assumeTrue(false, e.getMessage());
        }
        gpus = CudaDevices.count();
        assumeTrue(gpus > 0, () -> "no GPU: " + CudaDevices.unavailableReason());
    }

    @Test
    void versionIsRecentEnough() {
        NcclVersion v = nccl.version();
        LOG.info("NCCL {} from {}, {} GPU(s)", v, nccl.path(), gpus);
        assertTrue(v.atLeast(NcclVersion.MINIMUM), v.toString());
    }

    @Test
    void uniqueIdsAreFreshAndNotEmpty() {
        NcclUniqueId a = NcclUniqueId.generate(nccl), b = NcclUniqueId.generate(nccl);
        assertFalse(Arrays.equals(new byte[NcclUniqueId.BYTES], a.bytes()));
        assertFalse(a.equals(b), "every id names a fresh bootstrap endpoint");
    }

    @Test
    void errorStringsComeFromNccl() {
        String text = nccl.getErrorString(NcclResult.INVALID_ARGUMENT.code());
        assertFalse(text.isBlank());
        NcclException e = NcclException.of(nccl, NcclResult.INVALID_ARGUMENT.code(), 0, "probe");
        assertTrue(e.getMessage().startsWith("probe failed: ncclInvalidArgument (" + text + ")"), e.getMessage());
    }

    @Test
    void communicatorsFromInitAllReportThemselvesAndAbortOrDestroyCleanly() {
        int[] devices = IntStream.range(0, gpus).toArray();
        List<NcclCommunicator> comms = NcclCommunicators.initAll(nccl, devices, TIMEOUT);
        for (int i = 0; i < devices.length; i++) {
            assertEquals(i, comms.get(i).rank());
            assertEquals(devices.length, comms.get(i).ranks());
            assertEquals(devices[i], comms.get(i).cudaDevice());
            comms.get(i).checkAsyncError();
        }
        abortAll(comms);
        assertTrue(comms.stream().allMatch(NcclCommunicator::isReleased));
        List<NcclCommunicator> again = NcclCommunicators.initAll(nccl, devices, TIMEOUT);
        closeAll(again);
    }

    @Test
    void initRankWithAUniqueIdAsAProcessOfItsOwnWould() {
        CudaDevice d = CudaDevices.open(0);
        CudaStream s = d.createStream();
        try {
            List<NcclCommunicator> comms = NcclCommunicators.initRanks(nccl, NcclUniqueId.generate(nccl), 1,
                    new int[] {0}, List.of(s), TIMEOUT);
            assertEquals(0, comms.getFirst().rank());
            assertEquals(0, comms.getFirst().cudaDevice());
            comms.getFirst().close();
        } finally {
            s.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = NcclSettings.Launch.class, names = {"DIRECT", "GROUPED"})
    void everyCollectiveDtypeAndOpOnEveryGpu(NcclSettings.Launch launch) {
        int n = Math.min(gpus, 8);
        List<CudaDevice> devices = new ArrayList<>();
        List<CudaStream> streams = new ArrayList<>();
        List<RankContext> ranks = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            CudaDevice d = CudaDevices.open(r);
            CudaStream s = d.createStream();
            devices.add(d);
            streams.add(s);
            ranks.add(new RankContext(r, d, s, null));
        }
        Topology topo = Topology.uniform("gpus", IntStream.range(0, n).mapToObj(i -> "cuda:" + i).toList(),
                new Link(true, LinkKind.NVLINK, 0, 0, Double.NaN, Double.NaN));
        NcclSettings settings = NcclSettings.defaults().withLaunch(launch);
        // DIRECT with several GPUs on one thread would wait for peers that are never launched: one GPU only
        int used = launch == NcclSettings.Launch.DIRECT ? 1 : n;
        GroupContext group = new GroupContext(used == n ? topo : topo.subset(0), ranks.subList(0, used), ConfigFactory.empty());
        long count = 1000;
        long seq = 0;
        int checked = 0;
        try (NcclBackend backend = new NcclBackend(nccl, group, settings); Arena arena = Arena.ofConfined()) {
            for (DType t : DType.values()) {
                for (Collective c : Collective.values()) {
                    for (ReduceOp op : c.reduces() ? List.of(ReduceOp.values()) : List.of(ReduceOp.SUM)) {
                        int root = c.rooted() ? used - 1 : 0;
                        CollectiveCall call = new CollectiveCall(c, t, op, count, root);
                        runAndCheck(backend, call, ++seq, devices.subList(0, used), streams.subList(0, used), arena);
                        checked++;
                    }
                }
            }
            assertTrue(backend.failure().isEmpty());
        } finally {
            streams.forEach(CudaStream::close);
        }
        LOG.info("{} collectives checked on {} GPU(s), {} launch", checked, used, launch);
    }

    private static void runAndCheck(NcclBackend backend, CollectiveCall call, long seq, List<CudaDevice> devices,
                                    List<CudaStream> streams, Arena arena) {
        int n = devices.size();
        DType t = call.dtype();
        Collective c = call.collective();
        long sendCount = c.sendCount(call.count(), n), recvCount = c.recvCount(call.count(), n);
        DeviceBuffer[] send = new DeviceBuffer[n], recv = new DeviceBuffer[n];
        try {
            for (int r = 0; r < n; r++) {
                send[r] = devices.get(r).allocate(sendCount * t.bytes());
                recv[r] = devices.get(r).allocate(recvCount * t.bytes());
                MemorySegment in = arena.allocate(sendCount * t.bytes());
                for (long i = 0; i < sendCount; i++) {
                    t.set(in, i, CollectiveReference.input(r, i));
                }
                streams.get(r).copyFromHost(in, send[r], 0);
                MemorySegment untouched = arena.allocate(recvCount * t.bytes());
                for (long i = 0; i < recvCount; i++) {
                    t.set(untouched, i, CollectiveReference.UNTOUCHED);
                }
                streams.get(r).copyFromHost(untouched, recv[r], 0);
                streams.get(r).synchronize(); // the staging segments are reused by the next case
            }
            for (int r = 0; r < n; r++) {
                backend.enqueue(r, seq, call, send[r], recv[r]);
            }
            for (int r = 0; r < n; r++) {
                MemorySegment out = arena.allocate(recvCount * t.bytes());
                streams.get(r).copyToHost(recv[r], 0, out);
                streams.get(r).synchronize();
                for (long i = 0; i < recvCount; i++) {
                    float expected = CollectiveReference.expected(c, call.op(), t, n, call.root(), r, i, call.count());
                    float actual = t.get(out, i);
                    if (expected != actual) {
                        throw new AssertionError(backend.describe(call) + ": rank " + r + " element " + i
                                + " is " + actual + ", expected " + expected);
                    }
                }
            }
        } finally {
            for (int r = 0; r < n; r++) {
                if (send[r] != null) {
                    devices.get(r).free(send[r]);
                }
                if (recv[r] != null) {
                    devices.get(r).free(recv[r]);
                }
            }
        }
    }

    private static void abortAll(List<NcclCommunicator> comms) {
        onThreads(comms, NcclCommunicator::abort);
    }

    private static void closeAll(List<NcclCommunicator> comms) {
        onThreads(comms, NcclCommunicator::close);
    }

    /** Abort and destroy may wait for the other local ranks: one thread each. */
    private static void onThreads(List<NcclCommunicator> comms, java.util.function.Consumer<NcclCommunicator> action) {
        List<Thread> threads = comms.stream().map(c -> Thread.ofPlatform().start(() -> action.accept(c))).toList();
        for (Thread th : threads) {
            try {
                assertTrue(th.join(TIMEOUT), "communicator teardown finished");
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }
}
