package io.cohort.cuda.nccl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.CollectiveCall;
import io.cohort.backend.RankContext;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.testing.FakeBuffer;
import io.cohort.cuda.nccl.FakeCuda.FakeDevice;
import io.cohort.testing.NoOpStream;
import io.cohort.device.DeviceKind;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The backend's logic over a fake NCCL: launching, grouping, validation, failure handling. No GPU needed. */
class NcclBackendTest {

    private static final CollectiveCall SUM_F32_8 = CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 8);

    @Test
    void allLocalRanksShareOneInitAllOverTheirDevices() {
        TestGroup g = TestGroup.allLocal(3);
        try (NcclBackend b = g.backend()) {
            assertEquals(List.of("ncclCommInitAll(0,1,2)"), g.ncclCalls());
            assertEquals(3, b.ranks());
            assertTrue(b.groupedLaunch());
            assertEquals("2.28.3", b.version().toString());
            assertEquals(List.of(0, 1, 2), b.communicators().stream().map(NcclCommunicator::rank).toList());
            assertEquals(List.of(0, 1, 2), b.communicators().stream().map(NcclCommunicator::cudaDevice).toList());
        }
    }

    @Test
    void groupedLaunchWaitsForTheLastLocalRankThenLaunchesAllInOneGroup() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            FakeBuffer s0 = g.buffer(0, 32), s1 = g.buffer(1, 32);
            long user0 = g.streams.get(0).handle, user1 = g.streams.get(1).handle;
            g.log.clear();

            b.enqueue(0, 1, SUM_F32_8, s0, s0);
            assertEquals(List.of("stream " + user0 + " write READY=1", "stream " + user0 + " wait DONE>=1"), g.log,
                    "the first rank's stream is gated, NCCL not called yet");

            b.enqueue(1, 1, SUM_F32_8, s1, s1);
            List<String> l = g.log;
            int start = l.indexOf("ncclGroupStart"), end = l.indexOf("ncclGroupEnd");
            assertTrue(start > 0 && end > start, l::toString);
            assertEquals(2, l.subList(start, end).stream().filter(x -> x.startsWith("ncclAllReduce")).count());
            // NCCL runs on streams of its own, which wait for READY and signal DONE
            assertFalse(l.subList(start, end).stream().anyMatch(x -> x.contains("stream=" + user0) || x.contains("stream=" + user1)));
            assertTrue(l.subList(end, l.size()).stream().filter(x -> x.endsWith("write DONE=1")).count() == 2, l::toString);
            assertEquals(2, l.subList(0, start).stream().filter(x -> x.endsWith("wait READY>=1")).count(), l::toString);
        }
    }

    @Test
    void ranksMayRunAheadAndEnqueueInAnyOrder() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            FakeBuffer[] buf = {g.buffer(0, 32), g.buffer(1, 32)};
            for (int seq = 1; seq <= 5; seq++) {
                b.enqueue(0, seq, SUM_F32_8, buf[0], buf[0]);
            }
            assertEquals(0, g.nccl.collectives.size());
            for (int seq = 1; seq <= 5; seq++) {
                b.enqueue(1, seq, SUM_F32_8, buf[1], buf[1]);
                assertEquals(2 * seq, g.nccl.collectives.size(), "seq " + seq + " launched once both ranks enqueued it");
            }
        }
    }

    @Test
    void mismatchedCountsAcrossRanksAreCaughtBeforeNcclAndFailTheBackend() {
        TestGroup g = TestGroup.allLocal(2);
        NcclBackend b = g.backend();
        FakeBuffer s0 = g.buffer(0, 64), s1 = g.buffer(1, 64);
        b.enqueue(0, 7, SUM_F32_8, s0, s0);
        var e = assertThrows(CohortException.class,
                () -> b.enqueue(1, 7, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 16), s1, s1));
        assertTrue(e.getMessage().contains("mismatched collective seq 7"), e.getMessage());
        assertTrue(e.getMessage().contains("rank 0 enqueued all-reduce 8 x f32 sum"), e.getMessage());
        assertTrue(e.getMessage().contains("rank 1 enqueued all-reduce 16 x f32 sum"), e.getMessage());
        assertTrue(g.nccl.collectives.isEmpty(), "NCCL never saw the collective");
        // rank 0's stream waits for DONE >= 7: the failure must release it, and abort the communicators
        assertEquals(Long.MAX_VALUE, b.localRank(0).flags.segment().get(ValueLayout.JAVA_LONG, NcclRank.DONE));
        assertEquals(2, g.nccl.aborted.size());
        assertTrue(b.failure().isPresent());
        var later = assertThrows(CohortException.class, () -> b.enqueue(0, 8, SUM_F32_8, s0, s0));
        assertTrue(later.getMessage().contains("failed earlier"), later.getMessage());
        b.close();
        assertTrue(g.nccl.destroyed.isEmpty(), "aborted communicators are not destroyed again");
    }

    @Test
    void callsAgreeingOnWhatMattersAreNotMismatched() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            FakeBuffer s0 = g.buffer(0, 64), r0 = g.buffer(0, 128), s1 = g.buffer(1, 64), r1 = g.buffer(1, 128);
            // all-gather has no operator: ranks stating different ones still agree
            b.enqueue(0, 1, new CollectiveCall(Collective.ALL_GATHER, DType.F32, ReduceOp.SUM, 8, 0), s0, r0);
            b.enqueue(1, 1, new CollectiveCall(Collective.ALL_GATHER, DType.F32, ReduceOp.MAX, 8, 1), s1, r1);
            assertEquals(2, g.nccl.collectives.size());
        }
    }

    @Test
    void tooSmallBufferIsRefusedBeforeNcclWithoutFailingTheBackend() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            FakeBuffer small = g.buffer(0, 16);
            var e = assertThrows(CohortException.class, () -> b.enqueue(0, 1, SUM_F32_8, small, small));
            assertTrue(e.getMessage().contains("rank 0 (cuda:0)"), e.getMessage());
            assertTrue(e.getMessage().contains("send buffer holds 16 bytes, the call needs 32"), e.getMessage());
            assertTrue(g.nccl.collectives.isEmpty());
            assertTrue(b.failure().isEmpty(), "nobody waits for seq 1 yet: the caller may retry");
        }
    }

    @Test
    void tooSmallGatherTargetIsRefused() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            FakeBuffer send = g.buffer(1, 32), recv = g.buffer(1, 32);
            var e = assertThrows(CohortException.class, () -> b.enqueue(1, 1,
                    new CollectiveCall(Collective.ALL_GATHER, DType.F32, ReduceOp.SUM, 8, 0), send, recv));
            assertTrue(e.getMessage().contains("recv buffer holds 32 bytes, the call needs 64"), e.getMessage());
        }
    }

    @Test
    void bufferOnAnotherDeviceOrInHostMemoryIsRefused() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            FakeBuffer onOne = g.buffer(1, 32);
            var e = assertThrows(CohortException.class, () -> b.enqueue(0, 1, SUM_F32_8, onOne, onOne));
            assertTrue(e.getMessage().contains("send buffer lives on cuda:1, not on cuda:0"), e.getMessage());
            FakeBuffer pinned = g.devices.get(0).allocatePinnedHost(32);
            var p = assertThrows(CohortException.class, () -> b.enqueue(0, 1, SUM_F32_8, pinned, pinned));
            assertTrue(p.getMessage().contains("pinned host memory"), p.getMessage());
        }
    }

    @Test
    void rootOutOfRangeIsRefused() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            FakeBuffer buf = g.buffer(0, 32);
            var e = assertThrows(CohortException.class, () -> b.enqueue(0, 1,
                    new CollectiveCall(Collective.BROADCAST, DType.F32, ReduceOp.SUM, 8, 2), buf, buf));
            assertTrue(e.getMessage().contains("root 2 is not a rank of this 2-rank group"), e.getMessage());
        }
    }

    @Test
    void overlapIsAllowedOnlyInNcclsInPlaceLayouts() {
        // rank 1 of 2, the other in another process: nobody here waits for it, so refusals leave the backend usable
        TestGroup g = new TestGroup(2, 1);
        try (NcclBackend b = g.backend(TestGroup.settings().withUniqueId(NcclUniqueId.generate(g.nccl)))) {
            FakeBuffer big = g.buffer(0, 64);
            CollectiveCall gather = new CollectiveCall(Collective.ALL_GATHER, DType.F32, ReduceOp.SUM, 8, 0);
            // rank 1's in-place all-gather sends from its own block of recv
            b.enqueue(1, 1, gather, big.slice(32, 32), big);
            var e = assertThrows(CohortException.class, () -> b.enqueue(1, 2, gather, big.slice(0, 32), big));
            assertTrue(e.getMessage().contains("not in place (send == recv + rank * count elements)"), e.getMessage());
            var s = assertThrows(CohortException.class, () -> b.enqueue(1, 3, SUM_F32_8, big.slice(4, 32), big));
            assertTrue(s.getMessage().contains("not in place (send == recv)"), s.getMessage());
            assertTrue(b.failure().isEmpty());
        }
    }

    @Test
    void sequenceNumbersMustIncrease() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            FakeBuffer buf = g.buffer(0, 32);
            b.enqueue(0, 5, SUM_F32_8, buf, buf);
            var e = assertThrows(CohortException.class, () -> b.enqueue(0, 5, SUM_F32_8, buf, buf));
            assertTrue(e.getMessage().contains("rank 0 enqueued seq 5 after seq 5"), e.getMessage());
        }
    }

    @Test
    void groupedLaunchWithOneLocalRankLaunchesAtOnce() {
        // found on the GPU machine: GROUPED forced with a single GPU had no window to admit the call into
        TestGroup g = TestGroup.allLocal(1);
        NcclSettings s = new NcclSettings("", List.of(), java.util.Optional.empty(), NcclSettings.Launch.GROUPED, 4,
                Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ZERO);
        try (NcclBackend b = g.backend(s)) {
            assertTrue(b.groupedLaunch());
            FakeBuffer buf = g.buffer(0, 32);
            g.log.clear();
            b.enqueue(0, 1, SUM_F32_8, buf, buf);
            b.enqueue(0, 2, SUM_F32_8, buf, buf);
            assertEquals(2, g.log.stream().filter(x -> x.startsWith("ncclAllReduce")).count(), g.log::toString);
            assertEquals(2, g.log.stream().filter(x -> x.endsWith("write DONE=1") || x.endsWith("write DONE=2")).count(),
                    g.log::toString);
        }
    }

    @Test
    void aRankTooFarAheadIsStopped() {
        TestGroup g = TestGroup.allLocal(2);
        NcclSettings s = new NcclSettings("", List.of(), java.util.Optional.empty(), NcclSettings.Launch.AUTO, 4,
                Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ZERO);
        try (NcclBackend b = g.backend(s)) {
            FakeBuffer buf = g.buffer(0, 32);
            for (int seq = 1; seq <= 4; seq++) {
                b.enqueue(0, seq, SUM_F32_8, buf, buf);
            }
            var e = assertThrows(CohortException.class, () -> b.enqueue(0, 5, SUM_F32_8, buf, buf));
            assertTrue(e.getMessage().contains("while seq 1 still waits for ranks [1]"), e.getMessage());
            assertTrue(e.getMessage().contains("cohort.nccl.max-pending"), e.getMessage());
        }
    }

    @Test
    void aSkippedSequenceNumberIsReportedNotSilentlyReleased() {
        TestGroup g = TestGroup.allLocal(2);
        NcclBackend b = g.backend();
        FakeBuffer b0 = g.buffer(0, 32), b1 = g.buffer(1, 32);
        b.enqueue(0, 1, SUM_F32_8, b0, b0);
        b.enqueue(0, 2, SUM_F32_8, b0, b0);
        var e = assertThrows(CohortException.class, () -> b.enqueue(1, 2, SUM_F32_8, b1, b1));
        assertTrue(e.getMessage().contains("ranks [1] never enqueued seq 1"), e.getMessage());
        assertTrue(g.nccl.collectives.isEmpty());
        b.close();
    }

    @Test
    void streamThatIsNotCudaIsRefusedBeforeNcclIsCalled() {
        TestGroup g = TestGroup.allLocal(1);
        FakeDevice d = g.devices.getFirst();
        g.ranks.set(0, new RankContext(0, d, new NoOpStream(d), null));
        var e = assertThrows(NcclUnavailableException.class, g::backend);
        assertTrue(e.getMessage().contains("NCCL needs CUDA streams: rank 0's stream (NoOpStream)"), e.getMessage());
        assertTrue(g.log.isEmpty(), "no NCCL call made");
    }

    @Test
    void hostDevicesAreRefused() {
        TestGroup g = TestGroup.allLocal(1);
        FakeDevice host = new FakeDevice(0, DeviceKind.HOST, g.log);
        g.ranks.set(0, new RankContext(0, host, host.createStream(), null));
        var e = assertThrows(NcclUnavailableException.class, g::backend);
        assertTrue(e.getMessage().contains("NCCL needs CUDA devices: rank 0 runs on host:0"), e.getMessage());
    }

    @Test
    void tooOldNcclIsRefused() {
        TestGroup g = TestGroup.allLocal(1);
        g.nccl.versionCode = 2708;
        var e = assertThrows(NcclUnavailableException.class, g::backend);
        assertTrue(e.getMessage().contains("NCCL 2.7.8 is too old"), e.getMessage());
    }

    @Test
    void ncclErrorBecomesNcclExceptionWithItsNameAndTextAndFailsTheBackend() {
        TestGroup g = TestGroup.allLocal(1);
        NcclBackend b = g.backend();
        g.nccl.collectiveResult = NcclResult.INVALID_ARGUMENT.code();
        g.nccl.lastError = "AllReduce : invalid root";
        FakeBuffer buf = g.buffer(0, 32);
        var e = assertThrows(NcclException.class, () -> b.enqueue(0, 3, SUM_F32_8, buf, buf));
        assertEquals(NcclResult.INVALID_ARGUMENT, e.result());
        assertEquals("ncclAllReduce (seq 3) on rank 0 (cuda:0) failed: ncclInvalidArgument (invalid argument (run with"
                + " NCCL_DEBUG=WARN for details)): AllReduce : invalid root", e.getMessage());
        assertEquals(1, g.nccl.aborted.size());
        b.close();
    }

    @Test
    void asyncErrorPolledAtEnqueueAbortsTheCommunicators() {
        TestGroup g = TestGroup.allLocal(1);
        NcclBackend b = g.backend();
        FakeBuffer buf = g.buffer(0, 32);
        b.enqueue(0, 1, SUM_F32_8, buf, buf);
        g.nccl.asyncErrors.put(b.communicators().getFirst().handle(), NcclResult.REMOTE_ERROR.code());
        var e = assertThrows(NcclException.class, () -> b.enqueue(0, 2, SUM_F32_8, buf, buf));
        assertEquals(NcclResult.REMOTE_ERROR, e.result());
        assertTrue(e.getMessage().startsWith("NCCL communicator rank 0 of 1 (cuda:0) failed: ncclRemoteError"), e.getMessage());
        assertEquals(List.of(b.communicators().getFirst().handle()), g.nccl.aborted);
        b.close();
    }

    @Test
    void watchdogFindsAsyncErrorsWithoutAnyEnqueue() throws InterruptedException {
        TestGroup g = TestGroup.allLocal(2);
        NcclBackend b = g.backend(TestGroup.settings().withAsyncErrorPoll(Duration.ofMillis(5)));
        g.nccl.asyncErrors.put(b.communicators().get(1).handle(), NcclResult.SYSTEM_ERROR.code());
        for (int i = 0; i < 2000 && b.failure().isEmpty(); i++) {
            Thread.sleep(5);
        }
        assertTrue(b.failure().isPresent(), "the watchdog reported the error");
        assertTrue(b.failure().get().getMessage().contains("rank 1 of 2 (cuda:1) failed: ncclSystemError"));
        for (int i = 0; i < 2000 && g.nccl.aborted.size() < 2; i++) {
            Thread.sleep(5);
        }
        assertEquals(2, g.nccl.aborted.size(), "every local communicator aborted");
        b.close();
    }

    @Test
    void inProgressIsNotAnError() {
        TestGroup g = TestGroup.allLocal(1);
        try (NcclBackend b = g.backend()) {
            g.nccl.asyncErrors.put(b.communicators().getFirst().handle(), NcclResult.IN_PROGRESS.code());
            FakeBuffer buf = g.buffer(0, 32);
            b.enqueue(0, 1, SUM_F32_8, buf, buf);
            assertTrue(b.failure().isEmpty());
        }
    }

    @Test
    void closeDestroysEveryCommunicatorAndFreesTheFlags() {
        TestGroup g = TestGroup.allLocal(2);
        NcclBackend b = g.backend();
        List<Long> handles = b.communicators().stream().map(NcclCommunicator::handle).toList();
        b.close();
        assertEquals(handles.stream().sorted().toList(), g.nccl.destroyed.stream().sorted().toList());
        assertTrue(g.nccl.aborted.isEmpty());
        assertEquals(1, g.devices.get(0).pinnedFreed);
        assertEquals(1, g.devices.get(1).pinnedFreed);
        assertThrows(CohortException.class, () -> b.enqueue(0, 1, SUM_F32_8, g.buffer(0, 32), g.buffer(0, 32)));
        b.close(); // idempotent
        assertEquals(2, g.nccl.destroyed.size());
    }

    @Test
    void singleLocalRankOfAMultiProcessGroupJoinsWithTheUniqueIdAndLaunchesDirectly() {
        TestGroup g = new TestGroup(2, 1);
        NcclUniqueId id = NcclUniqueId.generate(g.nccl);
        try (NcclBackend b = g.backend(TestGroup.settings().withUniqueId(id))) {
            assertEquals("ncclCommInitRank(rank=1, nranks=2, id=" + id.toBase64().substring(0, 8) + ")",
                    g.ncclCalls().get(1));
            assertFalse(b.groupedLaunch());
            FakeBuffer buf = g.buffer(0, 32);
            g.log.clear();
            b.enqueue(1, 1, SUM_F32_8, buf, buf);
            assertEquals(List.of("ncclAllReduce(rank=1, count=8, stream=" + g.streams.getFirst().handle + ")"), g.log,
                    "directly on the rank's own stream, no group, no flags");
            assertTrue(g.streams.getFirst().contextMadeCurrent > 0);
            var e = assertThrows(CohortException.class, () -> b.enqueue(0, 2, SUM_F32_8, buf, buf));
            assertTrue(e.getMessage().contains("rank 0 is not driven by this process (its ranks: [1])"), e.getMessage());
        }
    }

    @Test
    void groupSpanningProcessesNeedsTheUniqueId() {
        TestGroup g = new TestGroup(2, 0);
        var e = assertThrows(NcclUnavailableException.class, g::backend);
        assertTrue(e.getMessage().contains("no cohort.nccl.unique-id"), e.getMessage());
        assertTrue(g.log.isEmpty());
    }

    @Test
    void twoRanksOnOneGpuAreRefused() {
        TestGroup g = TestGroup.allLocal(2);
        FakeDevice d0 = g.devices.getFirst();
        g.ranks.set(1, new RankContext(1, d0, d0.createStream(), null));
        var e = assertThrows(NcclUnavailableException.class, g::backend);
        assertTrue(e.getMessage().contains("cuda:0 serves two ranks"), e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(NcclSettings.Launch.class)
    void everyLaunchModeGivesTheSameResult(NcclSettings.Launch mode) {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend(TestGroup.settings().withLaunch(mode))) {
            FakeBuffer b0 = g.buffer(0, 32), b1 = g.buffer(1, 32);
            for (int i = 0; i < 8; i++) {
                DType.F32.set(b0.segment(), i, i);
                DType.F32.set(b1.segment(), i, 10 * i);
            }
            b.enqueue(0, 1, SUM_F32_8, b0, b0);
            b.enqueue(1, 1, SUM_F32_8, b1, b1);
            for (int i = 0; i < 8; i++) {
                assertEquals(11f * i, DType.F32.get(b0.segment(), i));
                assertEquals(11f * i, DType.F32.get(b1.segment(), i));
            }
        }
    }

    @Test
    void describeNamesVersionCallAndLaunch() {
        TestGroup g = TestGroup.allLocal(2);
        try (NcclBackend b = g.backend()) {
            assertEquals("NCCL 2.28.3 ncclAllReduce all-reduce 8 x f32 sum over 2 ranks (2 here, grouped launch)",
                    b.describe(SUM_F32_8));
        }
    }
}
