package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.cuda.CudaDevices;
import io.cohort.nn.Matrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With -Dcohort.nn.gemm-choices, matmulT runs the kernel the file names for the product, bit for bit as the
 * direct call of that kernel; a product the file does not name, or a choice that cannot take the operands,
 * follows the rules.
 */
@Tag("gpu")
class GemmChoicesDispatchTest {
    private static final int N = 1027, K = 1024;

    @TempDir
    Path dir;

    @Test
    void matmulTRunsTheChosenKernel() throws Exception {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        assumeTrue(CublasLibrary.isAvailable() && CublasLtLibrary.isAvailable(), "needs cuBLAS and cuBLASLt");
        Path file = dir.resolve("choices.conf");
        Files.writeString(file, "choices = [\n"
                + "  { n = " + N + ", k = " + K + ", rows = 1, kernel = gemv_v1 }\n"
                + "  { n = " + N + ", k = " + K + ", rows = 2, kernel = cublas }\n"
                + "  { n = " + N + ", k = " + K + ", rows = 8, kernel = tc_v0 }\n"
                + "  { n = " + N + ", k = " + K + ", rows = 16, kernel = lt_a0 }\n"
                + "  { n = " + N + ", k = " + K + ", rows = 4, kernel = gemv_v0 }\n"   // a 1-row variant: cannot take 4
                + "]\n");
        System.setProperty("cohort.nn.gemm-choices", file.toString());
        CudaTensorOps chosen;
        try {
            chosen = new CudaTensorOps(CudaDevices.open(0));
        } finally {
            System.clearProperty("cohort.nn.gemm-choices");
        }
        try (Arena arena = Arena.ofConfined(); CudaTensorOps plain = new CudaTensorOps(CudaDevices.open(0))) {
            Random rnd = new Random(7);
            MemorySegment a = arena.allocate(4L * 16 * K), w = arena.allocate(2L * N * K);
            for (long i = 0; i < 16L * K; i++) {
                a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
            }
            for (long i = 0; i < (long) N * K; i++) {
                w.setAtIndex(ValueLayout.JAVA_SHORT, i, DType.floatToBf16((float) rnd.nextGaussian()));
            }
            check(chosen, plain, a, w, 1, (ops, m) -> ops.matmulTGemvVariant(m[0], m[1], m[2], 1));
            check(chosen, plain, a, w, 2, (ops, m) -> {
                ops.useGemv(false);   // cuBLAS after the cast
                ops.matmulT(m[0], m[1], m[2]);
                ops.useGemv(true);
            });
            check(chosen, plain, a, w, 8, (ops, m) -> ops.matmulTTc(m[0], m[1], m[2], 0));
            // (a cuBLASLt algorithm may split k with atomics: the same algorithm, not necessarily the same bits)
            checkClose(chosen, plain, a, w, 16, (ops, m) -> ops.matmulTCublasLt(m[0], m[1], m[2], 0));
            check(chosen, plain, a, w, 4, (ops, m) -> ops.matmulT(m[0], m[1], m[2]));   // the rules
            check(chosen, plain, a, w, 3, (ops, m) -> ops.matmulT(m[0], m[1], m[2]));   // not named: the rules
        } finally {
            chosen.close();
        }
    }

    private interface Direct {
        void run(CudaTensorOps ops, Matrix[] operands);
    }

    private static void check(CudaTensorOps chosen, CudaTensorOps plain, MemorySegment a, MemorySegment w, int rows,
                              Direct direct) {
        float[] viaChoice = run(chosen, a, w, rows, m -> chosen.matmulT(m[0], m[1], m[2]));
        float[] viaDirect = run(plain, a, w, rows, m -> direct.run(plain, m));
        for (int i = 0; i < viaChoice.length; i++) {
            assertEquals(Float.floatToRawIntBits(viaDirect[i]), Float.floatToRawIntBits(viaChoice[i]),
                    rows + " rows, output " + i + ": " + viaChoice[i] + " vs " + viaDirect[i]);
        }
    }

    private static void checkClose(CudaTensorOps chosen, CudaTensorOps plain, MemorySegment a, MemorySegment w,
                                   int rows, Direct direct) {
        float[] viaChoice;
        try (KernelTimeline t = chosen.newTimeline(8)) {   // the launch labels say which kernel ran
            chosen.timeline(t);
            viaChoice = run(chosen, a, w, rows, m -> chosen.matmulT(m[0], m[1], m[2]));
            chosen.timeline(null);
            String kernels = t.report().rows().stream().map(KernelTimeline.Row::name).toList().toString();
            assertEquals(true, kernels.contains("cublaslt a0"), kernels);
        }
        float[] viaDirect = run(plain, a, w, rows, m -> direct.run(plain, m));
        double max = 0;
        for (float v : viaDirect) {
            max = Math.max(max, Math.abs(v));
        }
        for (int i = 0; i < viaChoice.length; i++) {
            assertEquals(viaDirect[i], viaChoice[i], 1e-5 * max, rows + " rows, output " + i);
        }
    }

    private static float[] run(CudaTensorOps ops, MemorySegment a, MemorySegment w, int rows, Consumer<Matrix[]> op) {
        Matrix ga = ops.allocate(DType.F32, rows, K), gw = ops.allocate(DType.BF16, N, K), out = ops.allocate(DType.F32, rows, N);
        try (Arena arena = Arena.ofConfined()) {
            ops.upload(a.asSlice(0, 4L * rows * K), ga.buffer(), 0);
            ops.upload(w, gw.buffer(), 0);
            op.accept(new Matrix[] {ga, gw, out});
            MemorySegment host = arena.allocate(4L * rows * N);
            ops.download(out.buffer(), 0, host);
            return host.toArray(ValueLayout.JAVA_FLOAT);
        } finally {
            ops.free(ga);
            ops.free(gw);
            ops.free(out);
        }
    }
}
