package io.cohort.cuda.p2p;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.Gpu;
import io.cohort.device.DeviceException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The P2P all-reduce kernels with several ranks on one GPU: every dtype and op, odd sizes, unaligned and
 * in-place buffers, both paths and the chunked path, against a host reference and bit-identical across ranks.
 */
@Tag("gpu")
class P2pAllReduceTest {

    // 1 MiB staging: the largest count runs as several launches
    private static final String SMALL_STAGING = "cuda.p2p.chunk-bytes = 1MiB\n";
    private static final long[] COUNTS = {1, 7, 8, 1000, 4099, 65_541, 300_001};

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 8})
    void oneShotMatchesTheReferenceOnEveryRank(int n) {
        sweep(n, "one-shot");
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 8})
    void twoShotMatchesTheReferenceOnEveryRank(int n) {
        sweep(n, "two-shot");
    }

    private void sweep(int n, String path) {
        CudaDevice d = Gpu.device();
        Random rnd = new Random();
        try (VirtualGroup g = new VirtualGroup(d, n, SMALL_STAGING + "cuda.p2p.algorithm = " + path)) {
            for (DType t : DType.values()) {
                for (ReduceOp op : ReduceOp.values()) {
                    for (long count : COUNTS) {
                        check(g, t, op, count, count % 2 == 1 ? 1 : 0, false, rnd);
                    }
                    check(g, t, op, 4099, 0, true, rnd);   // in place
                }
            }
        }
    }

    @Test
    void autoSwitchesPathsAtTheThreshold() {
        CudaDevice d = Gpu.device();
        try (VirtualGroup g = new VirtualGroup(d, 4, "cuda.p2p.one-shot-max-bytes = 4KiB")) {
            assertTrue(g.backend.describe(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1024)).contains("one-shot"));
            assertTrue(g.backend.describe(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1025)).contains("two-shot"));
            Random rnd = new Random();
            for (long count : new long[]{1023, 1024, 1025, 5000}) {
                check(g, DType.BF16, ReduceOp.SUM, count * 2, 0, false, rnd);
            }
        }
    }

    /** Poisons recv, runs one all-reduce on every rank, compares every rank with the reference. */
    static void check(VirtualGroup g, DType t, ReduceOp op, long count, int shift, boolean inPlace, Random rnd) {
        int n = g.n();
        long bytes = count * t.bytes();
        long off = (long) shift * t.bytes();
        List<CudaBuffer> send = new ArrayList<>();
        List<CudaBuffer> recv = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> inputs = new ArrayList<>();
            MemorySegment poison = arena.allocate(bytes).fill((byte) 0xff);
            for (int r = 0; r < n; r++) {
                CudaDevice dev = g.devices.get(r);
                send.add(dev.allocate(bytes + 32));
                recv.add(inPlace ? send.get(r) : dev.allocate(bytes + 32));
                MemorySegment in = Gpu.random(arena, t, count, rnd);
                inputs.add(in);
                g.streams.get(r).copyFromHost(in.asSlice(0, bytes), send.get(r), off);
                if (!inPlace) {
                    g.streams.get(r).copyFromHost(poison, recv.get(r), off);
                }
            }
            g.allReduce(t, op, count, send, recv, off, off);
            MemorySegment expected = arena.allocate(bytes);
            VirtualGroup.reference(t, op, inputs, expected, count);
            for (int r = 0; r < n; r++) {
                MemorySegment out = arena.allocate(bytes);
                g.streams.get(r).copyToHost(recv.get(r), off, out);
                g.streams.get(r).synchronize();
                Gpu.assertBitsEqual(t, expected, out, count, "rank " + r + " of " + n + ", " + t + " " + op + ", count "
                        + count + (shift != 0 ? ", unaligned" : "") + (inPlace ? ", in place" : "") + ", "
                        + g.backend.describe(CollectiveCall.allReduce(t, op, count)));
            }
        } finally {
            for (int r = 0; r < n; r++) {
                g.devices.get(r).free(send.get(r));
                if (!inPlace) {
                    g.devices.get(r).free(recv.get(r));
                }
            }
        }
    }

    @Test
    void ranksMayEnqueueFromTheirOwnThreadsInAnyOrder() throws Exception {
        CudaDevice d = Gpu.device();
        int n = 4;
        long count = 50_000;
        DType t = DType.F32;
        try (VirtualGroup g = new VirtualGroup(d, n, "cuda.p2p.one-shot-max-bytes = 64KiB");
             Arena arena = Arena.ofShared()) {
            List<CudaBuffer> send = new ArrayList<>();
            List<CudaBuffer> recv = new ArrayList<>();
            List<MemorySegment> inputs = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                send.add(d.allocate(count * 4));
                recv.add(d.allocate(count * 4));
                inputs.add(Gpu.random(arena, t, count, new Random()));
                g.streams.get(r).copyFromHost(inputs.get(r), send.get(r), 0);
                g.streams.get(r).synchronize();
            }
            MemorySegment expected = arena.allocate(count * 4);
            VirtualGroup.reference(t, ReduceOp.SUM, inputs, expected, count);
            ExecutorService pool = Executors.newFixedThreadPool(n);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int r = n - 1; r >= 0; r--) {
                int rank = r;
                done.add(pool.submit(() -> {
                    start.await();
                    Random jitter = new Random(rank);
                    for (long seq = 1; seq <= 200; seq++) {
                        long c = seq % 2 == 0 ? count : 1000;   // alternate one-shot and two-shot
                        g.backend.enqueue(rank, seq, CollectiveCall.allReduce(t, ReduceOp.SUM, c), send.get(rank), recv.get(rank));
                        if (jitter.nextInt(20) == 0) {
                            Thread.sleep(1);
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
            pool.shutdown();
            for (int r = 0; r < n; r++) {
                MemorySegment out = arena.allocate(count * 4);
                g.streams.get(r).copyToHost(recv.get(r), 0, out);
                g.streams.get(r).synchronize();
                Gpu.assertBitsEqual(t, expected, out, count, "rank " + r + " after 200 threaded all-reduces");
            }
            for (int r = 0; r < n; r++) {
                d.free(send.get(r));
                d.free(recv.get(r));
            }
        }
    }

    @Test
    void aMissingRankIsReportedNotHung() {
        CudaDevice d = Gpu.device();
        CudaBuffer a = d.allocate(4096);
        try (VirtualGroup g = new VirtualGroup(d, 2, "cuda.p2p.timeout = 300ms")) {
            g.backend.enqueue(0, 1, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1024), a, a);
            DeviceException e = assertThrows(DeviceException.class, () -> g.streams.get(0).synchronize(Duration.ofSeconds(20)));
            assertTrue(e.getMessage().contains("rank 0 waited for rank 1"), e.getMessage());
        } finally {
            d.free(a);
        }
    }

    /** Inside a graph too: a replay whose peer never launches ends in the barrier timeout naming both ranks. */
    @Test
    void aRankStalledInsideAGraphIsReportedNotHung() {
        CudaDevice d = Gpu.device();
        CudaBuffer a = d.allocate(4096);
        try (VirtualGroup g = new VirtualGroup(d, 2, "cuda.p2p.timeout = 300ms")) {
            ((CudaP2pBackend) g.backend).prepareGraphs();
            io.cohort.cuda.graph.CudaGraph graph = io.cohort.cuda.graph.GraphCapture.capture(g.streams.get(0),
                    () -> g.backend.enqueue(0, 1, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1024), a, a));
            try (graph) {
                graph.launch(g.streams.get(0));   // rank 1 never replays its part
                DeviceException e = assertThrows(DeviceException.class,
                        () -> g.streams.get(0).synchronize(Duration.ofSeconds(20)));
                assertTrue(e.getMessage().contains("rank 0 waited for rank 1"), e.getMessage());
            }
        } finally {
            d.free(a);
        }
    }

    @Test
    void badCallsAreRejectedBeforeAnythingIsEnqueued() {
        CudaDevice d = Gpu.device();
        CudaBuffer small = d.allocate(16);
        CudaBuffer big = d.allocate(4096);
        try (VirtualGroup g = new VirtualGroup(d, 2, "")) {
            CohortException e = assertThrows(CohortException.class,
                    () -> g.backend.enqueue(0, 1, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1024), small, big));
            assertTrue(e.getMessage().contains("rank 0") && e.getMessage().contains("send buffer"), e.getMessage());
            g.backend.enqueue(1, 5, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 0), big, big);
            e = assertThrows(CohortException.class,
                    () -> g.backend.enqueue(1, 5, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 0), big, big));
            assertTrue(e.getMessage().contains("increasing seq"), e.getMessage());
            assertThrows(CohortException.class,
                    () -> g.backend.enqueue(2, 1, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1), big, big));
            assertEquals(2, g.backend.ranks());
        } finally {
            d.free(small);
            d.free(big);
        }
    }
}
