package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.device.Device;
import io.cohort.device.host.HostDevice;
import io.cohort.model.LlamaConfig;
import io.cohort.model.ProgressBar;
import io.cohort.model.TensorParallelLlama;
import io.cohort.model.TinyLlama;
import io.cohort.nn.HostAllReduce;
import io.cohort.nn.Matrix;
import io.cohort.nn.RotaryTable;
import io.cohort.nn.TensorOps;
import io.cohort.nn.TensorOpsFactory;
import io.cohort.nn.host.HostTensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every GPU op against the host's on the same inputs, then the tiny model on one GPU against the host.
 * Tolerances: element-wise ops differ only by the GPU's expf/rsqrtf (a few ulp) and summation order:
 * 1e-5 relative. Model: with f32 weights everything stays f32 (cuBLAS with CUBLAS_COMPUTE_32F, no TF32), so
 * the bound of the host tests applies (5e-5, see TensorParallelLlamaTest) with 2x margin for the GPU's
 * transcendental functions: 1e-4. With bf16 weights the GPU rounds activations to bf16 before each GEMM
 * (u = 2^-9) where the host keeps f32: about six GEMMs on the path of each logit give ≈1e-2; we assert 3e-2.
 */
@Tag("gpu")
class CudaTensorOpsTest {
    private CudaDevice gpu;
    private HostDevice host;
    private TensorOps g;
    private HostTensorOps h;

    @TempDir
    Path dir;

    @BeforeEach
    void open() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        assumeTrue(CublasLibrary.isAvailable(), "needs " + CublasLibrary.SONAME);
        gpu = CudaDevices.open(0);
        host = HostDevice.open(0);
        g = TensorOpsFactory.forDevice(gpu, 1);
        h = new HostTensorOps(host, 1);
    }

    @AfterEach
    void close() {
        if (g != null) {
            g.close();
            h.close();
            host.close();
        }
    }

    /** The same random matrix on both devices. */
    private Matrix[] both(DType dtype, int rows, int cols, Random rnd) {
        Matrix hm = h.allocate(dtype, rows, cols);
        for (long i = 0; i < hm.elements(); i++) {
            dtype.set(hm.buffer().segment(), i, (float) rnd.nextGaussian());
        }
        Matrix gm = g.allocate(dtype, rows, cols);
        g.upload(hm.buffer().segment().asSlice(0, hm.byteSize()), gm.buffer(), 0);
        return new Matrix[] {hm, gm};
    }

    private void assertClose(Matrix expected, Matrix actual, double tolerance, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment got = arena.allocate(actual.byteSize());
            g.download(actual.buffer(), 0, got);
            double worst = 0;
            for (long i = 0; i < expected.elements(); i++) {
                double e = expected.dtype().get(expected.buffer().segment(), i);
                double a = actual.dtype().get(got, i);
                worst = Math.max(worst, Math.abs(e - a) / Math.max(1, Math.abs(e)));
            }
            assertTrue(worst <= tolerance, what + ": worst scaled error " + worst);
        }
    }

    @Test
    void elementwiseOpsMatchHost() {
        Random rnd = new Random(5);
        int t = 5, heads = 4, kv = 2, d = 16, cols = heads * d;
        Matrix[] x = both(DType.F32, t, cols, rnd), w = both(DType.BF16, 1, cols, rnd), y = both(DType.F32, t, cols, rnd);
        Matrix[] out = {h.allocate(DType.F32, t, cols), g.allocate(DType.F32, t, cols)};
        h.rmsNorm(x[0], w[0], 1e-5f, out[0]);
        g.rmsNorm(x[1], w[1], 1e-5f, out[1]);
        assertClose(out[0], out[1], 1e-5, "rmsNorm");
        h.siluMul(x[0], y[0], out[0]);
        g.siluMul(x[1], y[1], out[1]);
        assertClose(out[0], out[1], 1e-5, "siluMul");
        h.add(x[0], y[0], out[0]);
        g.add(x[1], y[1], out[1]);
        assertClose(out[0], out[1], 1e-6, "add");
        Matrix ht = RotaryTable.create(h, 32, d, 10000.0), gt = RotaryTable.create(g, 32, d, 10000.0);
        h.rotary(x[0], heads, d, 3, ht);
        g.rotary(x[1], heads, d, 3, gt);
        assertClose(x[0], x[1], 1e-6, "rotary");
        Matrix[] table = both(DType.BF16, 10, cols, rnd);
        int[] tokens = {12, 15, 3, 19, 14};
        h.embed(table[0], 10, tokens, out[0]);
        g.embed(table[1], 10, tokens, out[1]);
        assertClose(out[0], out[1], 0, "embed");
        Matrix[] k = both(DType.F32, 32, kv * d, rnd), v = both(DType.F32, 32, kv * d, rnd);
        h.attention(x[0], k[0], v[0], heads, kv, d, 7, out[0]);
        g.attention(x[1], k[1], v[1], heads, kv, d, 7, out[1]);
        assertClose(out[0], out[1], 1e-5, "attention");
    }

    /** The fused kernels against the host's (unfused: add then rmsNorm; silu of one half times the other). */
    @Test
    void fusedOpsMatchHost() {
        Random rnd = new Random(12);
        int t = 3, hdim = 160, f = 48;
        Matrix[] x = both(DType.F32, t, hdim, rnd), d = both(DType.F32, t, hdim, rnd), w = both(DType.BF16, 1, hdim, rnd);
        Matrix[] out = {h.allocate(DType.F32, t, hdim), g.allocate(DType.F32, t, hdim)};
        h.addRmsNorm(x[0], d[0], w[0], 1e-5f, out[0]);
        g.addRmsNorm(x[1], d[1], w[1], 1e-5f, out[1]);
        assertClose(x[0], x[1], 0, "addRmsNorm residual");
        assertClose(out[0], out[1], 1e-5, "addRmsNorm normed");
        Matrix[] gu = both(DType.F32, t, 2 * f, rnd);
        Matrix[] s = {h.allocate(DType.F32, t, f), g.allocate(DType.F32, t, f)};
        h.siluMulPacked(gu[0], s[0]);
        g.siluMulPacked(gu[1], s[1]);
        assertClose(s[0], s[1], 1e-5, "siluMulPacked");
    }

    /**
     * Prefill attention without the score matrix (online softmax over KV tiles of ATTN_CHUNK positions, a block
     * per tile of query rows) against its host mirror and the one-block-per-head kernel: prompts inside one tile,
     * across tiles, after a cached prefix (128 and 200 rows, a partial last row tile), groups of 1 to 16, and
     * attention() for prefill. Bound as for split-K: 2e-5 absolute on O(1) outputs. Where attention() takes the
     * tensor-core kernel (TF32) it must equal attentionKernels().prefillTc bit for bit and the mirror to 2e-2 (its own
     * bound is CudaPrefillAttentionTest's).
     */
    @ParameterizedTest
    @ValueSource(strings = {"32,8,128,0,40", "32,4,64,0,300", "8,8,128,600,5", "16,2,64,100,257", "16,8,64,384,128",
            "32,4,64,384,128", "32,8,128,384,128", "32,8,128,37,200", "16,1,64,300,200", "12,4,80,31,33"})
    void onlineAttentionMatchesPerHeadAttention(String shape) {
        String[] f = shape.split(",");
        int heads = Integer.parseInt(f[0]), kv = Integer.parseInt(f[1]), d = Integer.parseInt(f[2]);
        int start = Integer.parseInt(f[3]), rows = Integer.parseInt(f[4]), capacity = 1024;
        Random rnd = new Random(heads + d + start + rows);
        Matrix[] q = both(DType.F32, rows, heads * d, rnd);
        Matrix[] k = both(DType.F32, capacity, kv * d, rnd), v = both(DType.F32, capacity, kv * d, rnd);
        Matrix online = g.allocate(DType.F32, rows, heads * d), perHead = g.allocate(DType.F32, rows, heads * d);
        Matrix viaAttention = g.allocate(DType.F32, rows, heads * d);
        CudaTensorOps cuda = (CudaTensorOps) g;
        cuda.attentionKernels().online(q[1], k[1], v[1], heads, kv, d, start, online);
        cuda.attentionKernels().perHead(q[1], k[1], v[1], heads, kv, d, start, perHead);
        Matrix hostOnline = h.allocate(DType.F32, rows, heads * d);
        io.cohort.nn.host.SplitKAttention.online(q[0], k[0], v[0], heads, kv, d, start, NnKernels.ATTN_CHUNK, hostOnline);
        assertClose(hostOnline, online, 2e-5, "online vs its host mirror");
        assertClose(hostOnline, perHead, 2e-5, "per-head vs the online host mirror");
        if (rows > CudaAttention.SPLIT_MAX_ROWS) {
            cuda.attention(q[1], k[1], v[1], heads, kv, d, start, viaAttention);
            boolean tc = !"simt".equals(System.getProperty("cohort.nn.prefill-attention")) && cuda.attentionKernels().prefillTcAvailable(d);
            if (CudaAttention.kernelFor(rows, heads, kv, d, capacity, true, tc, true) == CudaAttention.Kernel.PREFILL_TC) {
                // attention() took the tensor-core kernel (TF32; its bound is CudaPrefillAttentionTest's): its very
                // bits, and near the f32 mirror (4e-3 of a vector's max magnitude, outputs here below ~4)
                Matrix tcOut = g.allocate(DType.F32, rows, heads * d);
                cuda.attentionKernels().prefillTc(q[1], k[1], v[1], heads, kv, d, start, tcOut);
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment a = arena.allocate(tcOut.byteSize()), b = arena.allocate(tcOut.byteSize());
                    g.download(tcOut.buffer(), 0, a);
                    g.download(viaAttention.buffer(), 0, b);
                    assertTrue(a.mismatch(b) < 0, "attention() for prefill is attentionKernels().prefillTc, bit for bit");
                }
                g.free(tcOut);
                assertClose(hostOnline, viaAttention, 2e-2, "attention() for prefill (tensor cores)");
            } else {
                assertClose(hostOnline, viaAttention, 2e-5, "attention() for prefill");
            }
        }
    }

    /** The fused rotary + KV write against the host's unfused rotary, rotary, write, write (TensorOps default). */
    @Test
    void rotaryKvWriteMatchesHost() {
        Random rnd = new Random(11);
        int t = 3, heads = 8, kv = 2, d = 64, start = 9, capacity = 20;
        Matrix[] q = both(DType.F32, t, heads * d, rnd), k = both(DType.F32, t, kv * d, rnd), v = both(DType.F32, t, kv * d, rnd);
        Matrix[] kc = both(DType.F32, capacity, kv * d, rnd), vc = both(DType.F32, capacity, kv * d, rnd);
        Matrix ht = RotaryTable.create(h, capacity, d, 500000.0), gt = RotaryTable.create(g, capacity, d, 500000.0);
        h.rotaryKvWrite(q[0], k[0], v[0], heads, kv, d, start, ht, kc[0], vc[0]);
        g.rotaryKvWrite(q[1], k[1], v[1], heads, kv, d, start, gt, kc[1], vc[1]);
        assertClose(q[0], q[1], 1e-6, "rotated q");
        assertClose(kc[0], kc[1], 1e-6, "K cache");
        assertClose(vc[0], vc[1], 0, "V cache");
    }

    /**
     * Flash-decoding (split-K over chunks of ATTN_CHUNK positions, a block per tile of query rows, KV head and
     * chunk) against the one-block-per-head kernel on the GPU and against its host mirror, at positions on and
     * around chunk edges (0, 31, 32, 33, 63, 64, 511) and past many chunks, for 1, 3 and 16 query rows, groups of 1
     * to 16, head_dim 64, 80 and 128. Bound as in SplitKAttentionTest (reordered f32 sums), with the GPU's expf:
     * 2e-5 absolute on O(1) outputs.
     */
    @ParameterizedTest
    @ValueSource(strings = {"32,8,128,0,1", "32,8,128,31,1", "32,8,128,32,1", "32,8,128,33,3", "32,8,128,63,16",
            "32,8,128,64,1", "32,8,128,511,1", "32,8,128,511,16", "32,8,128,255,1", "32,8,128,256,1",
            "16,8,64,0,3", "16,8,64,31,1", "16,8,64,32,16", "16,8,64,63,1", "16,8,64,64,3", "16,8,64,511,1",
            "32,4,64,0,16", "32,4,64,31,3", "32,4,64,33,1", "32,4,64,64,16", "32,4,64,511,1", "32,4,64,900,1",
            "32,4,64,700,3", "8,8,128,513,2", "16,1,64,100,16", "12,4,80,33,3", "32,8,128,1008,16"})
    void splitKAttentionMatchesPerHeadAttention(String shape) {
        String[] f = shape.split(",");
        int heads = Integer.parseInt(f[0]), kv = Integer.parseInt(f[1]), d = Integer.parseInt(f[2]);
        int start = Integer.parseInt(f[3]), rows = Integer.parseInt(f[4]), capacity = 1024;
        Random rnd = new Random(heads + d + start);
        Matrix[] q = both(DType.F32, rows, heads * d, rnd);
        Matrix[] k = both(DType.F32, capacity, kv * d, rnd), v = both(DType.F32, capacity, kv * d, rnd);
        Matrix split = g.allocate(DType.F32, rows, heads * d), perHead = g.allocate(DType.F32, rows, heads * d);
        Matrix viaAttention = g.allocate(DType.F32, rows, heads * d);
        Matrix hostSplit = h.allocate(DType.F32, rows, heads * d);
        CudaTensorOps cuda = (CudaTensorOps) g;
        cuda.attentionKernels().splitK(q[1], k[1], v[1], heads, kv, d, start, split);
        cuda.attentionKernels().perHead(q[1], k[1], v[1], heads, kv, d, start, perHead);
        cuda.attention(q[1], k[1], v[1], heads, kv, d, start, viaAttention);
        io.cohort.nn.host.SplitKAttention.attention(q[0], k[0], v[0], heads, kv, d, start, NnKernels.ATTN_CHUNK, hostSplit);
        assertClose(hostSplit, split, 2e-5, "split-K vs its host mirror");
        assertClose(hostSplit, viaAttention, 2e-5, "attention() for decode");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ph = arena.allocate(perHead.byteSize());
            g.download(perHead.buffer(), 0, ph);
            Matrix perHeadOnHost = h.allocate(DType.F32, rows, heads * d);
            MemorySegment.copy(ph, 0, perHeadOnHost.buffer().segment(), 0, perHead.byteSize());
            assertClose(perHeadOnHost, split, 2e-5, "split-K vs per-head attention");
        }
    }

    /** Splitting a fused projection's output: a strided 2-D copy on the GPU, rows of copies on the host. */
    @Test
    void copyColumnsMatchesHost() {
        Random rnd = new Random(8);
        Matrix[] fused = both(DType.F32, 5, 96, rnd);
        Matrix[] part = {h.allocate(DType.F32, 5, 32), g.allocate(DType.F32, 5, 32)};
        for (int from : new int[] {0, 32, 64}) {
            h.copyColumns(fused[0], from, part[0]);
            g.copyColumns(fused[1], from, part[1]);
            assertClose(part[0], part[1], 0, "copyColumns from " + from);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16", "F16"})
    void gemmWithF32ActivationsMatchesHost(String weightType) {
        DType wt = DType.valueOf(weightType);
        Random rnd = new Random(9);
        Matrix[] a = both(DType.F32, 7, 96, rnd), w = both(wt, 40, 96, rnd);
        Matrix[] out = {h.allocate(DType.F32, 7, 40), g.allocate(DType.F32, 7, 40)};
        h.matmulT(a[0], w[0], out[0]);
        g.matmulT(a[1], w[1], out[1]);
        // f32 weights: f32 on both sides. Half weights: the GPU rounds a to the weight type (relative u each), so
        // an output errs by up to u·Σ|a·w| ≈ u·k·E|a|E|w| < k·u against outputs of typical size sqrt(k)
        assertClose(out[0], out[1], wt == DType.F32 ? 1e-5 : 96 * wt.unitRoundoff(), "matmulT " + wt);
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16"})
    void tinyModelOnOneGpuMatchesHost(String dtypeName) {
        DType dtype = DType.valueOf(dtypeName);
        LlamaConfig c = TinyLlama.defaultConfig();
        TinyLlama.write(dir, c, dtype, 3, 1);
        int[] prompt = {1, 7, 42, 99, 127, 0};
        TensorParallelLlama.Options o = TensorParallelLlama.Options.defaults().withProgress(ProgressBar.Mode.SILENT);
        float[][] onHost, onGpu;
        try (TensorParallelLlama m = TensorParallelLlama.load(dir, List.<Device>of(host), new HostAllReduce(1), o)) {
            onHost = m.forward(prompt, true);
        }
        try (TensorParallelLlama m = TensorParallelLlama.load(dir, List.<Device>of(gpu), new HostAllReduce(1), o)) {
            onGpu = m.forward(prompt, true);
            float[] decoded = m.next(5);
            assertTrue(decoded.length == c.vocabSize());
        }
        double worst = 0;
        for (int t = 0; t < prompt.length; t++) {
            for (int v = 0; v < c.vocabSize(); v++) {
                worst = Math.max(worst, Math.abs(onHost[t][v] - onGpu[t][v]) / Math.max(1, Math.abs(onHost[t][v])));
            }
        }
        double tolerance = dtype == DType.F32 ? 1e-4 : 3e-2;
        assertTrue(worst <= tolerance, "GPU vs host, " + dtype + " weights: worst scaled error " + worst);
    }
}
