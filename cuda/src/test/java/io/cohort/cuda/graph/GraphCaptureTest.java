package io.cohort.cuda.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.BackendKind;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaStream;
import io.cohort.cuda.Gpu;
import io.cohort.cuda.p2p.CudaP2pBackend;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.Tensor;
import io.cohort.group.LocalGroup;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The host API: an application captures its own work and a Cohort all-reduce (cuda-p2p, two ranks on one GPU)
 * into one graph and replays it 10,000 times. Every replay first adds 1 to each rank's input, so replay k must
 * produce (a0 + k) + (a1 + k); the graph itself compares that with an expected value it advances by 2, and keeps
 * the largest and smallest difference. A replay that reused a stale epoch or staging buffer shows up there
 * (or as the kernel's barrier timeout), not only in the last result. All values are small integers, exact in f32.
 */
@Tag("gpu")
class GraphCaptureTest {
    private static final int REPLAYS = 10_000;

    @ParameterizedTest
    @ValueSource(ints = {1000, 1 << 20})   // one-shot and two-shot paths
    void allReduceCapturedByTheApplicationReplays10000TimesWithoutDrift(int count) {
        CudaDevice gpu = Gpu.device();
        long bytes = 4L * count;
        try (LocalGroup group = LocalGroup.builder(Collections.nCopies(2, gpu)).backend(BackendKind.P2P)
                .sharedDevices().open();
             GraphCapture capture = GraphCapture.prepare(group);
             CudaStream app = gpu.createStream();
             Arena arena = Arena.ofConfined()) {
            assertInstanceOf(CudaP2pBackend.class, group.backend());
            DeviceBuffer[] send = new DeviceBuffer[2], recv = new DeviceBuffer[2], ones = new DeviceBuffer[2];
            MemorySegment host = arena.allocate(bytes, 16);
            for (int r = 0; r < 2; r++) {
                send[r] = gpu.allocate(bytes);
                recv[r] = gpu.allocate(bytes);
                ones[r] = gpu.allocate(bytes);
                for (int i = 0; i < count; i++) {
                    DType.F32.set(host, i, r == 0 ? i % 1000 : 7);
                }
                app.copyFromHost(host, send[r], 0);
                app.synchronize(); // the host buffer is rewritten next
                for (int i = 0; i < count; i++) {
                    DType.F32.set(host, i, 1);
                }
                app.copyFromHost(host, ones[r], 0);
                app.synchronize();
            }
            DeviceBuffer twos = gpu.allocate(bytes), expected = gpu.allocate(bytes), diff = gpu.allocate(bytes);
            DeviceBuffer worst = gpu.allocate(bytes), least = gpu.allocate(bytes);
            for (int i = 0; i < count; i++) {
                DType.F32.set(host, i, 2);
            }
            app.copyFromHost(host, twos, 0);
            app.synchronize();
            for (int i = 0; i < count; i++) {
                DType.F32.set(host, i, i % 1000 + 7);
            }
            app.copyFromHost(host, expected, 0);
            app.zero(worst, 0, bytes);
            app.zero(least, 0, bytes);
            app.synchronize();
            Tensor[] in = {new Tensor(send[0], DType.F32, count), new Tensor(send[1], DType.F32, count)};
            Tensor[] out = {new Tensor(recv[0], DType.F32, count), new Tensor(recv[1], DType.F32, count)};

            CudaGraph step = GraphCapture.capture(app, () -> {
                capture.join(app, () -> {
                    for (int r = 0; r < 2; r++) {
                        group.stream(r).reduce(DType.F32, ReduceOp.SUM, send[r], 0, ones[r], 0, send[r], 0, count);
                    }
                    group.allReduce(in, out, ReduceOp.SUM);
                });
                // the application's check, ordered after the collective by the join: diff = recv[1] - expected
                app.reduce(DType.F32, ReduceOp.SUM, expected, 0, twos, 0, expected, 0, count);
                app.copy(expected, 0, diff, 0, bytes);
                app.scale(DType.F32, diff, 0, count, -1);
                app.reduce(DType.F32, ReduceOp.SUM, diff, 0, recv[1], 0, diff, 0, count);
                app.reduce(DType.F32, ReduceOp.MAX, worst, 0, diff, 0, worst, 0, count);
                app.reduce(DType.F32, ReduceOp.MIN, least, 0, diff, 0, least, 0, count);
            });
            try (step) {
                for (int k = 0; k < REPLAYS; k++) {
                    step.launch(app);
                }
                app.synchronize();
                assertEquals(REPLAYS, step.launches());
            }
            for (DeviceBuffer b : new DeviceBuffer[] {worst, least}) {
                app.copyToHost(b, 0, host);
                app.synchronize();
                for (int i = 0; i < count; i++) {
                    assertEquals(0f, DType.F32.get(host, i), "replays disagreed with the expected sum at element " + i);
                }
            }
            for (int r = 0; r < 2; r++) {
                app.copyToHost(recv[r], 0, host);
                app.synchronize();
                for (int i = 0; i < count; i += 997) {
                    assertEquals(i % 1000 + 7 + 2f * REPLAYS, DType.F32.get(host, i), "rank " + r + " element " + i);
                }
            }
            // eager all-reduces still work next to the graph's (their flags and staging are apart)
            group.allReduceSync(out, ReduceOp.SUM);
            app.copyToHost(recv[0], 0, host);
            app.synchronize();
            assertEquals(2 * (7 + 2f * REPLAYS), DType.F32.get(host, 0));
        }
    }

    @Test
    void capturingAnUnpreparedP2pGroupIsAClearError() {
        CudaDevice gpu = Gpu.device();
        try (LocalGroup group = LocalGroup.builder(Collections.nCopies(2, gpu)).backend(BackendKind.P2P)
                .sharedDevices().open()) {
            CudaStream s = (CudaStream) group.stream(0);
            DeviceBuffer b = gpu.allocate(4096);
            CohortException e = assertThrows(CohortException.class, () -> GraphCapture.capture(s,
                    () -> group.backend().enqueue(0, 1, io.cohort.backend.CollectiveCall.allReduce(DType.F32,
                            ReduceOp.SUM, 16), b, b)));
            assertTrue(e.getMessage().contains("not prepared for graphs"), e.getMessage());
        }
    }
}
