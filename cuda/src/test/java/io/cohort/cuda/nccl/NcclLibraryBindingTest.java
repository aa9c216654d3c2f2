package io.cohort.cuda.nccl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cohort.backend.CollectiveCall;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.testing.StandInLibrary;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The java.lang.foreign binding against a stand-in libnccl.so.2 compiled from fake_nccl.c at test time (skipped
 * where no C compiler is found): every argument must arrive as the C signature says, the unique id by value,
 * counts as 64-bit size_t, strings back intact. No GPU, no NCCL needed.
 */
class NcclLibraryBindingTest {

    @TempDir
    static Path dir;
    private static NcclLibrary lib;
    private static MethodHandle lastCall;

    @BeforeAll
    static void buildTheStandIn() throws IOException, InterruptedException {
        Path so = StandInLibrary.compile(NcclLibraryBindingTest.class, "fake_nccl.c", dir, "libnccl.so.2");
        lib = NcclLibrary.load(NcclSettings.defaults().withLibrary(dir.toString()));
        // dlopen of the same file yields the same library: read the stand-in's record of the last call
        SymbolLookup same = SymbolLookup.libraryLookup(so, Arena.global());
        lastCall = Linker.nativeLinker().downcallHandle(same.find("fakeLastCall").orElseThrow(),
                FunctionDescriptor.of(ADDRESS));
    }

    private static String last() {
        try {
            return ((MemorySegment) lastCall.invokeExact()).reinterpret(512).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    @Test
    void loadsOncePerFileAndReadsTheVersion() {
        assertEquals(new NcclVersion(2, 28, 3), lib.version());
        assertSame(lib, NcclLibrary.load(dir.resolve("libnccl.so.2")));
    }

    @Test
    void uniqueIdComesOutAndGoesInByValue() {
        NcclUniqueId id = NcclUniqueId.generate(lib);
        byte[] b = id.bytes();
        assertEquals(1, b[0]);
        assertEquals((byte) (127 * 3 + 1), b[127]);
        int sum = 0;
        for (byte x : b) {
            sum += x & 0xff;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment comm = a.allocate(ADDRESS);
            MemorySegment idSeg = a.allocate(NcclLibrary.UNIQUE_ID);
            id.writeTo(idSeg);
            assertEquals(0, lib.commInitRank(comm, 4, idSeg, 2));
            assertEquals("ncclCommInitRank nranks=4 rank=2 id[0]=1 id[127]=" + (b[127] & 0xff) + " idsum=" + sum, last());
            assertEquals(0xC002, comm.get(ADDRESS, 0).address());
        }
    }

    @Test
    void initAllHandsBackOneCommunicatorPerDevice() {
        List<NcclCommunicator> comms = NcclCommunicators.initAll(lib, new int[] {3}, java.time.Duration.ofSeconds(10));
        assertEquals("ncclCommInitAll ndev=1 dev[0]=3", last());
        NcclCommunicator c = comms.getFirst();
        assertEquals(0xA003, c.handle());
        assertEquals(3, c.cudaDevice());
        assertEquals(0, c.rank());
        assertEquals(1, c.ranks());
        c.close();
        assertEquals("ncclCommDestroy comm=a003", last());
    }

    @Test
    void collectivesPassEveryArgumentInItsPlace() {
        long send = 0x7f00_0000_1000L, recv = 0x7f00_0000_2000L, comm = 0xA000, stream = 0x5555_0000L;
        long big = 5_000_000_000L; // beyond 32 bits: size_t must travel whole
        assertEquals(0, lib.allReduce(send, recv, big, 9, 4, comm, stream));
        assertEquals("ncclAllReduce send=7f0000001000 recv=7f0000002000 count=5000000000 dt=9 op=4 comm=a000 stream=55550000", last());
        assertEquals(0, lib.broadcast(send, recv, 7, 6, 1, comm, stream));
        assertEquals("ncclBroadcast send=7f0000001000 recv=7f0000002000 count=7 dt=6 root=1 comm=a000 stream=55550000", last());
        assertEquals(0, lib.reduce(send, recv, 7, 7, 2, 3, comm, stream));
        assertEquals("ncclReduce send=7f0000001000 recv=7f0000002000 count=7 dt=7 op=2 root=3 comm=a000 stream=55550000", last());
        assertEquals(0, lib.reduceScatter(send, recv, 7, 7, 3, comm, stream));
        assertEquals("ncclReduceScatter send=7f0000001000 recv=7f0000002000 recvcount=7 dt=7 op=3 comm=a000 stream=55550000", last());
        assertEquals(0, lib.allGather(send, recv, 7, 6, comm, 0));
        assertEquals("ncclAllGather send=7f0000001000 recv=7f0000002000 sendcount=7 dt=6 comm=a000 stream=0", last());
        assertEquals(0, lib.groupStart());
        assertEquals("ncclGroupStart", last());
        assertEquals(0, lib.groupEnd());
        assertEquals("ncclGroupEnd", last());
    }

    @Test
    void backendCallsReachTheLibraryAsNcclExpectsThem() {
        TestGroup g = TestGroup.allLocal(1);
        try (NcclBackend b = new NcclBackend(lib, g.context(), TestGroup.settings())) {
            var buf = g.buffer(0, 4096);
            long stream = g.streams.getFirst().handle;
            long comm = b.communicators().getFirst().handle();
            b.enqueue(0, 1, new CollectiveCall(Collective.REDUCE_SCATTER, DType.BF16, ReduceOp.AVG, 100, 0), buf, buf);
            assertEquals("ncclReduceScatter send=" + Long.toHexString(buf.address()) + " recv=" + Long.toHexString(buf.address())
                    + " recvcount=100 dt=9 op=4 comm=" + Long.toHexString(comm) + " stream=" + Long.toHexString(stream), last());
            b.enqueue(0, 2, new CollectiveCall(Collective.BROADCAST, DType.F16, ReduceOp.SUM, 64, 0), buf, buf);
            assertEquals("ncclBroadcast send=" + Long.toHexString(buf.address()) + " recv=" + Long.toHexString(buf.address())
                    + " count=64 dt=6 root=0 comm=" + Long.toHexString(comm) + " stream=" + Long.toHexString(stream), last());
        }
    }

    @Test
    void errorsCarryNcclsTexts() {
        assertEquals("invalid argument (fake)", lib.getErrorString(4));
        assertEquals("fake last error", lib.getLastError(0xA000));
        assertEquals("", lib.getLastError(0));
        TestGroup g = TestGroup.allLocal(1);
        NcclBackend b = new NcclBackend(lib, g.context(), TestGroup.settings());
        var buf = g.buffer(0, 64);
        var e = assertThrows(NcclException.class, () -> b.enqueue(0, 1, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 13), buf, buf));
        assertEquals("ncclAllReduce (seq 1) on rank 0 (cuda:0) failed: ncclInvalidArgument (invalid argument (fake)): fake last error",
                e.getMessage());
        assertEquals("ncclCommAbort comm=a000", last());
        b.close();
    }

    @Test
    void asyncErrorIsReadThroughThePreallocatedOutParameter() throws Throwable {
        NcclCommunicator c = NcclCommunicators.initAll(lib, new int[] {0}, java.time.Duration.ofSeconds(10)).getFirst();
        MethodHandle set = Linker.nativeLinker().downcallHandle(
                SymbolLookup.libraryLookup(dir.resolve("libnccl.so.2"), Arena.global()).find("fakeSetAsyncError").orElseThrow(),
                FunctionDescriptor.ofVoid(JAVA_INT));
        try {
            assertEquals(0, c.asyncError());
            set.invokeExact(6);
            assertEquals(6, c.asyncError());
            var e = assertThrows(NcclException.class, c::checkAsyncError);
            assertEquals(NcclResult.REMOTE_ERROR, e.result());
        } finally {
            set.invokeExact(0);
            c.abort();
        }
    }
}
