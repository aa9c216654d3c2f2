package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.cuda.CudaDevices;
import io.cohort.nn.Matrix;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The profiling timeline: every launch timed under its name, kernels inside the span, nothing timed after. */
@Tag("gpu")
class KernelTimelineTest {
    private CudaTensorOps ops;

    @BeforeEach
    void needsGpu() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        assumeTrue(CublasLibrary.isAvailable(), "needs " + CublasLibrary.SONAME);
        ops = new CudaTensorOps(CudaDevices.open(0));
    }

    @AfterEach
    void close() {
        if (ops != null) {
            ops.close();
        }
    }

    @Test
    void everyLaunchIsTimedUnderItsNameWithinTheSpan() {
        Matrix x = ops.allocate(DType.F32, 1, 1024), w = ops.allocate(DType.F32, 1, 1024);
        Matrix normed = ops.allocate(DType.F32, 1, 1024), y = ops.allocate(DType.F32, 1, 512);
        Matrix weights = ops.allocate(DType.BF16, 512, 1024);
        try (KernelTimeline t = ops.newTimeline(8)) {
            ops.timeline(t);
            ops.rmsNorm(x, w, 1e-5f, normed);
            ops.rmsNorm(x, w, 1e-5f, normed);
            ops.matmulT(normed, weights, y);
            ops.timeline(null);
            ops.rmsNorm(x, w, 1e-5f, normed); // after: not timed
            KernelTimeline.Report r = t.report();
            List<String> names = r.rows().stream().map(KernelTimeline.Row::name).toList();
            assertEquals("rmsNorm", names.getFirst(), names.toString());
            assertEquals(2, r.rows().getFirst().launches());
            assertEquals(2, names.size(), names.toString());
            assertTrue(names.get(1).startsWith("gemv 1x512x1024") || names.get(1).startsWith("cublas"), names.toString());
            assertEquals(3, r.launches());
            assertTrue(r.kernelMicros() > 0 && r.kernelMicros() <= r.spanMicros(), r.render());
            assertTrue(r.render().contains("idle between launches"), r.render());
        }
    }
}
