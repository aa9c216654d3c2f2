package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.cuda.CudaDevices;
import io.cohort.device.discovery.DeviceSpec;
import io.cohort.device.discovery.Devices;
import io.cohort.device.host.HostDevice;
import io.cohort.group.LocalGroup;
import io.cohort.model.LlamaConfig;
import io.cohort.model.ProgressBar;
import io.cohort.model.TensorParallelLlama;
import io.cohort.model.TinyLlama;
import io.cohort.nn.LocalGroupAllReduce;
import io.cohort.nn.Matrix;
import io.cohort.nn.RmsNorm;
import io.cohort.nn.TensorOps;
import io.cohort.nn.TensorOpsFactory;
import io.cohort.nn.host.HostTensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The cuda-p2p all-reduce fused with residual add + RMSNorm, ranks on one GPU ({@code cuda:0*N}):
 * <ul>
 *   <li>the collective alone: every rank's residual and normed output bit-identical (each rank sums in rank
 *   order), and against the host (partials summed in rank order in f32, then HostTensorOps.addRmsNorm): the
 *   residual exactly, normed to 1e-5 (rsqrtf and the block's summation order);</li>
 *   <li>the model: logits with the fused path against the unfused one (all-reduce, then addRmsNorm) within
 *   1e-5 relative, the same number of collectives;</li>
 *   <li>the same collective as the epilogue of the row-parallel GEMV (gemv.cu, cohort_gemv_arnorm_*): the
 *   partials are the plain GEMV's bits, so the residual is the host's rank-order sum exactly and normed within
 *   1e-5, bit-identical on every rank; and decode with it, eager and from graphs, against decode with the
 *   separate fused collective, within 1e-4 (its norm sums over the GEMV's block, not the collective's).</li>
 * </ul>
 */
@Tag("gpu")
class FusedAllReduceNormTest {
    private static final int[] PROMPT = {1, 7, 42, 99, 127, 0, 64, 3};

    @TempDir
    Path dir;

    @BeforeEach
    void needsGpu() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        assumeTrue(CublasLibrary.isAvailable(), "needs " + CublasLibrary.SONAME);
    }

    private static Devices.Selection ranks(int tp) {
        return Devices.open(DeviceSpec.parse("cuda:0*" + tp), com.typesafe.config.ConfigFactory.load().getConfig("cohort"));
    }

    @ParameterizedTest
    @CsvSource({"2,1,4096,false", "2,3,2048,false", "4,1,1024,false", "4,16,512,false",
                "2,1,4096,true", "2,3,2048,true", "4,1,1024,true", "4,16,512,true", "2,1,5000,true", "2,2,2050,true"})
    void everyRankGetsTheSameResidualAndNorm(int tp, int rows, int cols, boolean registers) {
        Random rnd = new Random(tp * 100 + rows);
        float[][] partial = new float[tp][];
        for (int r = 0; r < tp; r++) {
            partial[r] = gaussian(rnd, rows * cols);
        }
        float[] residual = gaussian(rnd, rows * cols), weight = gaussian(rnd, cols);
        HostDevice host = HostDevice.open(0);
        HostTensorOps h = new HostTensorOps(host, 1);
        try {
            float[][][] got = fusedOnce(partial, residual, weight, rows, cols, registers);
            assertRanksAgreeWithTheHost(h, partial, residual, weight, rows, cols, got[0], got[1]);
        } finally {
            h.close();
            host.close();
        }
    }

    /**
     * The register form (cohort.cuda.p2p.fused-registers: inputs loaded before the barrier) gives the plain form's
     * bits, where it applies (one row per block, at most 8 columns per thread) and where it falls back.
     */
    @ParameterizedTest
    @CsvSource({"2,1,4096", "2,1,2048", "2,4,2048", "4,1,1024", "2,1,5000", "2,2,2050"})
    void theRegisterFormGivesThePlainFormsBits(int tp, int rows, int cols) {
        Random rnd = new Random(tp * 1000 + rows * 10 + cols);
        float[][] partial = new float[tp][];
        for (int r = 0; r < tp; r++) {
            partial[r] = gaussian(rnd, rows * cols);
        }
        float[] residual = gaussian(rnd, rows * cols), weight = gaussian(rnd, cols);
        float[][][] plain = fusedOnce(partial, residual, weight, rows, cols, false);
        float[][][] regs = fusedOnce(partial, residual, weight, rows, cols, true);
        for (int r = 0; r < tp; r++) {
            for (int i = 0; i < rows * cols; i++) {
                assertEquals(Float.floatToRawIntBits(plain[0][r][i]), Float.floatToRawIntBits(regs[0][r][i]),
                        "residual " + i + " rank " + r);
                assertEquals(Float.floatToRawIntBits(plain[1][r][i]), Float.floatToRawIntBits(regs[1][r][i]),
                        "normed " + i + " rank " + r);
            }
        }
    }

    /** One fused all-reduce + add + RMSNorm over {@code tp} ranks on the GPU: {residual, normed} per rank. */
    private float[][][] fusedOnce(float[][] partial, float[] residual, float[] weight, int rows, int cols,
                                  boolean registers) {
        int tp = partial.length;
        Devices.Selection sel = ranks(tp);
        com.typesafe.config.Config conf = com.typesafe.config.ConfigFactory.parseString(
                "cohort.cuda.p2p.fused-registers = " + registers).withFallback(com.typesafe.config.ConfigFactory.load());
        try (LocalGroup group = LocalGroup.builder(sel.devices()).config(conf).backend(BackendKind.P2P).sharedDevices()
                .open()) {
            LocalGroupAllReduce ar = new LocalGroupAllReduce(group, true);
            assumeTrue(ar.fusesAddRmsNorm(rows, cols), "backend " + ar.describe() + " does not fuse");
            TensorOps[] ops = new TensorOps[tp];
            Matrix[] part = new Matrix[tp], res = new Matrix[tp], nrm = new Matrix[tp], w = new Matrix[tp];
            for (int r = 0; r < tp; r++) {
                ops[r] = TensorOpsFactory.forDevice(sel.devices().get(r), 1);
                part[r] = upload(ops[r], partial[r], rows, cols);
                res[r] = upload(ops[r], residual, rows, cols);
                nrm[r] = ops[r].allocate(DType.F32, rows, cols);
                w[r] = upload(ops[r], weight, 1, cols);
            }
            // every rank set up before any rank enqueues: on one GPU, rank 0's kernel spins until rank 1's runs,
            // and a host step of rank 1 that waits for the device (a synchronizing upload) would wait for it
            for (int r = 0; r < tp; r++) {
                ops[r].orderBefore(ar.stream(r));
                ar.enqueueAddRmsNorm(r, part[r], res[r], new RmsNorm(w[r], 1e-5f), nrm[r]);
            }
            float[][] gotRes = new float[tp][], gotNorm = new float[tp][];
            for (int r = 0; r < tp; r++) {
                ar.stream(r).synchronize();
                gotRes[r] = download(ops[r], res[r]);
                gotNorm[r] = download(ops[r], nrm[r]);
            }
            for (TensorOps o : ops) {
                o.close();
            }
            return new float[][][] {gotRes, gotNorm};
        }
    }

    @ParameterizedTest
    @CsvSource({"2", "4"})
    void fusedLogitsMatchUnfused(int tp) {
        LlamaConfig c = TinyLlama.defaultConfig();
        TinyLlama.write(dir, c, DType.F32, 5, 1);
        TensorParallelLlama.Options o = TensorParallelLlama.Options.defaults().withProgress(ProgressBar.Mode.SILENT)
                .withMaxBatch(3);
        float[][][] logits = new float[2][][];
        long[] collectives = new long[2];
        for (int fused = 0; fused < 2; fused++) {
            Devices.Selection sel = ranks(tp);
            try (LocalGroup group = LocalGroup.builder(sel.devices()).backend(BackendKind.P2P).sharedDevices().open();
                 TensorParallelLlama m = TensorParallelLlama.load(dir, sel.devices(),
                         new LocalGroupAllReduce(group, fused == 1), o)) {
                logits[fused] = m.forward(PROMPT, true);
                collectives[fused] = m.allReduces();
            }
        }
        double worst = 0;
        for (int t = 0; t < PROMPT.length; t++) {
            for (int v = 0; v < c.vocabSize(); v++) {
                worst = Math.max(worst, Math.abs(logits[0][t][v] - logits[1][t][v]) / Math.max(1, Math.abs(logits[0][t][v])));
            }
        }
        assertTrue(worst <= 1e-5, "fused vs unfused all-reduce + norm, tp=" + tp + ": worst scaled error " + worst);
        assertEquals(collectives[0], collectives[1]);
    }

    @ParameterizedTest
    @CsvSource({"2,1,2048,1024", "2,2,4096,512", "4,1,1024,2048", "2,1,2048,5632"})
    void theGemvWithTheAllReduceEpilogueSumsThePlainGemvsPartials(int tp, int rows, int n, int k) {
        Random rnd = new Random(tp * 1000 + rows * 10 + n);
        Devices.Selection sel = ranks(tp);
        HostDevice host = HostDevice.open(0);
        HostTensorOps h = new HostTensorOps(host, 1);
        try (LocalGroup group = LocalGroup.builder(sel.devices()).backend(BackendKind.P2P).sharedDevices().open()) {
            LocalGroupAllReduce ar = new LocalGroupAllReduce(group, true, true);
            assumeTrue(ar.fusesAddRmsNorm(rows, n) && ar.addRmsNormEpilogue(0) != null,
                    "backend " + ar.describe() + " does not fuse");
            float[] residual = gaussian(rnd, rows * n), gamma = gaussian(rnd, n);
            TensorOps[] ops = new TensorOps[tp];
            Matrix[] x = new Matrix[tp], w = new Matrix[tp], res = new Matrix[tp], nrm = new Matrix[tp];
            RmsNorm[] norm = new RmsNorm[tp];
            float[][] partial = new float[tp][];
            for (int r = 0; r < tp; r++) {
                ops[r] = TensorOpsFactory.forDevice(sel.devices().get(r), 1);
                x[r] = upload(ops[r], gaussian(rnd, rows * k), rows, k, DType.F32);
                w[r] = upload(ops[r], gaussian(rnd, n * k), n, k, DType.BF16);
                res[r] = upload(ops[r], residual, rows, n, DType.F32);
                nrm[r] = ops[r].allocate(DType.F32, rows, n);
                norm[r] = new RmsNorm(upload(ops[r], gamma, 1, n, DType.BF16), 1e-5f);
                Matrix p = ops[r].allocate(DType.F32, rows, n);
                ops[r].matmulT(x[r], w[r], p);   // the plain GEMV (decode rows): the partial the epilogue stages
                partial[r] = download(ops[r], p);
            }
            // every rank ready before any enqueues: on one GPU rank 0's last block spins until rank 1's runs
            for (int r = 0; r < tp; r++) {
                assertTrue(ops[r].matmulTAllReduceAddRmsNorm(x[r], w[r], res[r], norm[r], nrm[r],
                        ar.addRmsNormEpilogue(r)), "rank " + r + " did not take the fused GEMV");
            }
            float[][] gotRes = new float[tp][], gotNorm = new float[tp][];
            for (int r = 0; r < tp; r++) {
                gotRes[r] = download(ops[r], res[r]);
                gotNorm[r] = download(ops[r], nrm[r]);
            }
            float[] gammaBf16 = new float[n];
            for (int i = 0; i < n; i++) {
                gammaBf16[i] = DType.bf16ToFloat(DType.floatToBf16(gamma[i]));
            }
            assertRanksAgreeWithTheHost(h, partial, residual, gammaBf16, rows, n, gotRes, gotNorm);
            for (TensorOps o : ops) {
                o.close();
            }
        } finally {
            h.close();
            host.close();
        }
    }

    @ParameterizedTest
    @CsvSource({"2", "4"})
    void decodeWithTheAllReduceInTheGemvMatchesTheSeparateCollective(int tp) {
        LlamaConfig c = TinyLlama.defaultConfig();
        TinyLlama.write(dir, c, DType.BF16, 7, 1);
        TensorParallelLlama.Options o = TensorParallelLlama.Options.defaults().withProgress(ProgressBar.Mode.SILENT)
                .withGraphs(true);
        int steps = 100;
        float[][][] logits = new float[2][2 * steps][];
        long[] collectives = new long[2], inKernels = new long[2];
        for (int inGemv = 0; inGemv < 2; inGemv++) {
            Devices.Selection sel = ranks(tp);
            try (LocalGroup group = LocalGroup.builder(sel.devices()).backend(BackendKind.P2P).sharedDevices().open();
                 TensorParallelLlama m = TensorParallelLlama.load(dir, sel.devices(),
                         new LocalGroupAllReduce(group, true, inGemv == 1), o)) {
                int at = 0;
                for (boolean graphs : new boolean[] {false, true}) {
                    m.useGraphs(graphs);
                    m.reset();
                    m.next(PROMPT);
                    for (int i = 0; i < steps; i++) {
                        logits[inGemv][at++] = m.next((i * 37 + 11) % c.vocabSize());
                    }
                }
                collectives[inGemv] = m.allReduces();
                inKernels[inGemv] = m.allReducesInKernels();
            }
        }
        assertEquals(0, inKernels[0]);
        assertTrue(inKernels[1] > 0, "no all-reduce ran in a GEMV");
        assertEquals(collectives[0], collectives[1]);
        double worst = 0;
        for (int s = 0; s < 2 * steps; s++) {
            for (int v = 0; v < c.vocabSize(); v++) {
                float a = logits[0][s][v], b = logits[1][s][v];
                worst = Math.max(worst, Math.abs(a - b) / Math.max(1, Math.abs(a)));
            }
        }
        assertTrue(worst <= 1e-4, "all-reduce in the GEMV vs the separate fused collective, tp=" + tp
                + ": worst scaled error " + worst);
    }

    /**
     * Every rank's residual and normed output bit-identical to rank 0's, and rank 0's against the host: the partials
     * summed in rank order (f32), then HostTensorOps.addRmsNorm; the residual exactly, normed within 1e-5.
     */
    private static void assertRanksAgreeWithTheHost(HostTensorOps h, float[][] partial, float[] residual, float[] weight,
                                                    int rows, int cols, float[][] gotRes, float[][] gotNorm) {
        for (int r = 1; r < partial.length; r++) {
            for (int i = 0; i < rows * cols; i++) {
                assertEquals(Float.floatToRawIntBits(gotRes[0][i]), Float.floatToRawIntBits(gotRes[r][i]), "residual " + i + " rank " + r);
                assertEquals(Float.floatToRawIntBits(gotNorm[0][i]), Float.floatToRawIntBits(gotNorm[r][i]), "normed " + i + " rank " + r);
            }
        }
        float[] sum = partial[0].clone();
        for (int r = 1; r < partial.length; r++) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += partial[r][i];
            }
        }
        Matrix hx = hostMatrix(h, residual, rows, cols), hd = hostMatrix(h, sum, rows, cols);
        Matrix hw = hostMatrix(h, weight, 1, cols), hn = h.allocate(DType.F32, rows, cols);
        h.addRmsNorm(hx, hd, hw, 1e-5f, hn);
        for (int i = 0; i < rows * cols; i++) {
            float ex = DType.F32.get(hx.buffer().segment(), i), en = DType.F32.get(hn.buffer().segment(), i);
            assertEquals(ex, gotRes[0][i], 0, "residual " + i);
            assertEquals(en, gotNorm[0][i], 1e-5 * Math.max(1, Math.abs(en)), "normed " + i);
        }
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    /** values rounded to {@code type} (f32 or bf16) in a new matrix of the device. */
    private static Matrix upload(TensorOps ops, float[] values, int rows, int cols, DType type) {
        Matrix m = ops.allocate(type, rows, cols);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate((long) type.bytes() * values.length);
            for (int i = 0; i < values.length; i++) {
                type.set(s, i, values[i]);
            }
            ops.upload(s, m.buffer(), 0);
        }
        return m;
    }

    private static Matrix upload(TensorOps ops, float[] values, int rows, int cols) {
        Matrix m = ops.allocate(DType.F32, rows, cols);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(4L * values.length);
            MemorySegment.copy(values, 0, s, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, values.length);
            ops.upload(s, m.buffer(), 0);
        }
        return m;
    }

    private static float[] download(TensorOps ops, Matrix m) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(m.byteSize());
            ops.download(m.buffer(), 0, s);
            return s.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
        }
    }

    private static Matrix hostMatrix(HostTensorOps h, float[] values, int rows, int cols) {
        Matrix m = h.allocate(DType.F32, rows, cols);
        MemorySegment.copy(values, 0, m.buffer().segment(), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, values.length);
        return m;
    }
}
