package io.cohort.cuda.p2p;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.CollectiveCall;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.Gpu;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * An all-reduce enqueued with its completion events ({@code enqueueAllAndRecord}, as the group API does) says it is
 * done from the kernel ({@code cohort.cuda.p2p.kernel-completion}): the last block writes each rank's completion
 * word. The results land in pinned host memory, read by the host as soon as the event says done (not through the
 * stream, which would order the read after the kernel anyway), so an early word would show as a wrong sum.
 */
@Tag("gpu")
class P2pKernelCompletionTest {

    private static final long[] COUNTS = {1, 7, 2048, 4099, 65_541, 300_001};

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void theResultIsOnTheHostOnceTheKernelSaysDone(int n) {
        run(n, "cuda.p2p.chunk-bytes = 1MiB\n", true);
    }

    @ParameterizedTest
    @ValueSource(strings = {"one-shot", "two-shot"})
    void everyPathSignals(String path) {
        run(3, "cuda.p2p.chunk-bytes = 1MiB\ncuda.p2p.algorithm = " + path + "\n", true);
    }

    @Test
    void offRecordsTheEventsInstead() {
        run(2, "cuda.p2p.kernel-completion = off\n", false);
    }

    private void run(int n, String config, boolean byKernel) {
        CudaDevice d = Gpu.device();
        Random rnd = new Random(n);
        try (VirtualGroup g = new VirtualGroup(d, n, config); Arena arena = Arena.ofConfined()) {
            CudaEvent[] events = new CudaEvent[n];
            for (int r = 0; r < n; r++) {
                events[r] = d.createCompletionEvent();
                assertTrue(events[r].kernelCanSignal(), "completion events have words on this device");
            }
            DeviceStream[] streams = g.streams.toArray(new DeviceStream[0]);
            try {
                for (int round = 0; round < 3; round++) {
                    for (long count : COUNTS) {
                        check(g, events, streams, count, rnd, arena, byKernel);
                    }
                }
            } finally {
                for (CudaEvent e : events) {
                    e.close();
                }
            }
        }
    }

    private static void check(VirtualGroup g, CudaEvent[] events, DeviceStream[] streams, long count, Random rnd,
                              Arena arena, boolean byKernel) {
        int n = g.n();
        long bytes = count * Float.BYTES;
        CudaBuffer[] send = new CudaBuffer[n];
        CudaBuffer[] recv = new CudaBuffer[n];
        try {
            java.util.List<MemorySegment> inputs = new java.util.ArrayList<>();
            for (int r = 0; r < n; r++) {
                send[r] = g.devices.get(r).allocate(bytes);
                recv[r] = g.devices.get(r).allocatePinnedHost(bytes);
                recv[r].segment().fill((byte) 0xff);
                MemorySegment in = Gpu.random(arena, DType.F32, count, rnd);
                inputs.add(in);
                g.streams.get(r).copyFromHost(in, send[r], 0);
            }
            for (var s : g.streams) {
                s.synchronize();
            }
            g.seq++;
            g.backend.enqueueAllAndRecord(g.seq, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, count),
                    send, recv, streams, events);
            MemorySegment expected = arena.allocate(bytes);
            VirtualGroup.reference(DType.F32, ReduceOp.SUM, inputs, expected, count);
            for (int r = 0; r < n; r++) {
                assertEquals(byKernel, events[r].lastRecordedByKernel(), "rank " + r + ": who recorded");
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (!events[r].isComplete()) {
                    assertTrue(System.nanoTime() < deadline, "rank " + r + " not done in 20 s");
                    Thread.onSpinWait();
                }
                Gpu.assertBitsEqual(DType.F32, expected, recv[r].segment(), count,
                        "rank " + r + " of " + n + ", count " + count + ", read as soon as its event said done");
            }
        } finally {
            for (var s : g.streams) {
                s.synchronize();
            }
            for (int r = 0; r < n; r++) {
                g.devices.get(r).free(send[r]);
                g.devices.get(r).free(recv[r]);
            }
        }
    }

    /**
     * A peer whose part is held back: rank 0's barrier gives up, its kernel still says done, and the wait on its
     * event reports the peer; once released, the peer finishes and says done too.
     */
    @Test
    void aPeerHeldBackEndsInItsErrorNotAHang() {
        CudaDevice d = Gpu.device();
        CudaBuffer a = d.allocate(4096);
        CudaBuffer b = d.allocate(4096);
        CudaBuffer gate = d.allocatePinnedHost(64);
        gate.segment().fill((byte) 0);
        try (VirtualGroup g = new VirtualGroup(d, 2, "cuda.p2p.timeout = 300ms")) {
            CudaEvent[] events = {d.createCompletionEvent(), d.createCompletionEvent()};
            try {
                g.streams.get(1).waitValue(gate, 0, 1);   // rank 1's kernel cannot start until the host says so
                g.backend.enqueueAllAndRecord(1, CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1024),
                        new DeviceBuffer[] {a, b}, new DeviceBuffer[] {a, b}, g.streams.toArray(new DeviceStream[0]),
                        events);
                assertTrue(events[0].lastRecordedByKernel());
                DeviceException x = assertThrows(DeviceException.class, () -> events[0].synchronize(20_000_000_000L));
                assertTrue(x.getMessage().contains("rank 0 waited for rank 1"), x.getMessage());
                gate.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 1L);
                events[1].synchronize(20_000_000_000L);
                g.synchronize();
            } finally {
                for (DeviceEvent e : events) {
                    e.close();
                }
            }
        } finally {
            d.free(a);
            d.free(b);
            d.free(gate);
        }
    }
}
