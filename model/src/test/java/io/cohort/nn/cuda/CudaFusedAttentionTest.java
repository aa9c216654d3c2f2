package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.DType;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.graph.CudaGraph;
import io.cohort.cuda.graph.GraphCapture;
import io.cohort.device.host.HostDevice;
import io.cohort.nn.Matrix;
import io.cohort.nn.RotaryTable;
import io.cohort.nn.host.HostTensorOps;
import io.cohort.nn.host.SplitKAttention;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decode attention in one launch (cohort_nn_rotary_attention: rotary, KV write, split-K attention and its
 * in-kernel combine) against today's path on the GPU, rotaryKvWrite then attentionKernels().splitK (split + combine): the
 * caches and the output bit for bit (the fused kernel runs the same arithmetic with explicit roundings, and its
 * combine replays the combine kernel's summation order); and against the host (rotaryKvWrite, then
 * SplitKAttention's mirror): 2e-5 absolute on O(1) outputs, as CudaTensorOpsTest's split-K bound. Caches start
 * random everywhere, at the step's positions too, so a kernel that read the step's own position from the cache
 * instead of from k and v would differ.
 */
@Tag("gpu")
class CudaFusedAttentionTest {
    private static final int CAPACITY = 1024;
    private static final String[] LAYOUTS = {"16,8,64", "32,4,64", "32,8,128", "12,4,80"};
    private static final int[] POSITIONS = {0, 1, 31, 32, 33, 63, 64, 300, 511};

    private CudaDevice gpu;
    private HostDevice host;
    private CudaTensorOps g;
    private HostTensorOps h;

    @BeforeEach
    void open() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
        gpu = CudaDevices.open(0);
        host = HostDevice.open(0);
        g = new CudaTensorOps(gpu);
        g.attentionKernels().useFused(true);   // opt-in in production; these tests check its results
        g.attentionKernels().useDecode(false);   // one-row steps would take the one-launch decode kernel first
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

    /**
     * heads,kvHeads,headDim,start,rows[,capacity]: every layout at every position for one row, then steps of 3 and
     * 16 rows; then long caches, where the combine takes its weights in several batches of 32 chunks (positions past
     * 1024) and its virtual threads sum more than one chunk each (past 4096).
     */
    static List<String> shapes() {
        List<String> out = new ArrayList<>();
        for (String l : LAYOUTS) {
            for (int p : POSITIONS) {
                out.add(l + "," + p + ",1");
            }
            for (int p : new int[] {0, 30, 31, 62, 300, 500}) {
                out.add(l + "," + p + ",3");
                out.add(l + "," + p + ",16");
            }
        }
        out.add("16,1,64,100,16");   // a group of 16: one row per tile, 16 tiles
        out.add("8,8,128,513,2");
        out.add("32,8,128,3000,1,4096");
        out.add("32,4,64,4095,1,4096");
        out.add("16,8,64,2100,3,4096");
        out.add("12,4,80,1500,16,4096");
        out.add("32,8,128,6000,1,8192");
        out.add("16,8,64,8190,2,8192");
        return out;
    }

    private Matrix random(int rows, int cols, Random rnd) {
        Matrix m = h.allocate(DType.F32, rows, cols);
        for (long i = 0; i < m.elements(); i++) {
            DType.F32.set(m.buffer().segment(), i, (float) rnd.nextGaussian());
        }
        return m;
    }

    private Matrix onGpu(Matrix hostMatrix) {
        Matrix m = g.allocate(DType.F32, hostMatrix.rows(), hostMatrix.cols());
        put(hostMatrix, m);
        return m;
    }

    private void put(Matrix hostMatrix, Matrix gpuMatrix) {
        g.upload(hostMatrix.buffer().segment().asSlice(0, hostMatrix.byteSize()), gpuMatrix.buffer(), 0);
    }

    private int[] bits(Matrix m) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(m.byteSize());
            g.download(m.buffer(), 0, s);
            return s.toArray(ValueLayout.JAVA_INT);
        }
    }

    private void assertSameBits(Matrix expected, Matrix actual, String what) {
        int[] e = bits(expected), a = bits(actual);
        assertEquals(e.length, a.length, what + ": sizes");
        int differ = 0, first = -1;
        for (int i = 0; i < e.length; i++) {
            if (e[i] != a[i]) {
                differ++;
                first = first < 0 ? i : first;
            }
        }
        assertTrue(differ == 0, what + ": " + differ + " of " + e.length + " floats differ, first at " + first + " ("
                + (first < 0 ? "" : Float.intBitsToFloat(e[Math.max(first, 0)]) + " vs " + Float.intBitsToFloat(a[Math.max(first, 0)])) + ")");
    }

    private void assertClose(Matrix expected, Matrix actual, double tolerance, String what) {
        int[] a = bits(actual);
        double worst = 0;
        for (int i = 0; i < expected.elements(); i++) {
            double e = DType.F32.get(expected.buffer().segment(), i);
            worst = Math.max(worst, Math.abs(e - Float.intBitsToFloat(a[i])) / Math.max(1, Math.abs(e)));
        }
        assertTrue(worst <= tolerance, what + ": worst scaled error " + worst);
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void fusedMatchesRotaryKvWriteThenSplitKAndTheHost(String shape) {
        String[] f = shape.split(",");
        int heads = Integer.parseInt(f[0]), kv = Integer.parseInt(f[1]), d = Integer.parseInt(f[2]);
        int start = Integer.parseInt(f[3]), rows = Integer.parseInt(f[4]);
        int capacity = f.length > 5 ? Integer.parseInt(f[5]) : CAPACITY;
        assertTrue(CudaAttention.fusedSupports(rows, heads, kv, d));
        Random rnd = new Random(31L * shape.hashCode());
        Matrix q = random(rows, heads * d, rnd), k = random(rows, kv * d, rnd), v = random(rows, kv * d, rnd);
        Matrix kc = random(capacity, kv * d, rnd), vc = random(capacity, kv * d, rnd);
        Matrix gq = onGpu(q), gk = onGpu(k), gv = onGpu(v);
        Matrix kcFused = onGpu(kc), vcFused = onGpu(vc), kcRef = onGpu(kc), vcRef = onGpu(vc);
        Matrix ht = RotaryTable.create(h, capacity, d, 10000.0), gt = RotaryTable.create(g, capacity, d, 10000.0);
        Matrix fused = g.allocate(DType.F32, rows, heads * d), ref = g.allocate(DType.F32, rows, heads * d);
        // fused first: it leaves q unrotated, which the reference then rotates in place
        g.attentionKernels().rotaryFused(gq, gk, gv, heads, kv, d, start, gt, kcFused, vcFused, fused);
        g.rotaryKvWrite(gq, gk, gv, heads, kv, d, start, gt, kcRef, vcRef);
        g.attentionKernels().splitK(gq, kcRef, vcRef, heads, kv, d, start, ref);
        assertSameBits(kcRef, kcFused, "K cache");
        assertSameBits(vcRef, vcFused, "V cache");
        assertSameBits(ref, fused, "output vs rotaryKvWrite + split + combine");
        // the op's dispatch takes the fused kernel here: same bits again (the tickets were left at zero)
        Matrix viaOp = g.allocate(DType.F32, rows, heads * d);
        put(q, gq);   // unrotated again (the reference rotated it in place)
        g.rotaryAttention(gq, gk, gv, heads, kv, d, start, gt, kcFused, vcFused, viaOp);
        assertSameBits(ref, viaOp, "rotaryAttention() output");
        h.rotaryKvWrite(q, k, v, heads, kv, d, start, ht, kc, vc);
        Matrix hostOut = h.allocate(DType.F32, rows, heads * d);
        SplitKAttention.attention(q, kc, vc, heads, kv, d, start, NnKernels.ATTN_CHUNK, hostOut);
        assertClose(kc, kcFused, 1e-6, "K cache vs the host");
        assertClose(vc, vcFused, 0, "V cache vs the host");
        assertClose(hostOut, fused, 2e-5, "output vs the host mirror");
    }

    /**
     * A decode loop: 50 one-row steps in a row at increasing positions on one stream, fresh q, k, v each step, the
     * fused op against rotaryKvWrite + attentionKernels().splitK at every step; the caches after all steps bit for bit.
     */
    @ParameterizedTest
    @ValueSource(strings = {"16,8,64,0", "32,4,64,0", "32,8,128,290", "12,4,80,480", "16,8,64,990"})
    void decodeLoopMatchesStepByStep(String shape) {
        String[] f = shape.split(",");
        int heads = Integer.parseInt(f[0]), kv = Integer.parseInt(f[1]), d = Integer.parseInt(f[2]);
        int first = Integer.parseInt(f[3]), steps = Math.min(50, CAPACITY - first);
        Random rnd = new Random(shape.hashCode());
        Matrix kc = random(CAPACITY, kv * d, rnd), vc = random(CAPACITY, kv * d, rnd);
        Matrix kcFused = onGpu(kc), vcFused = onGpu(vc), kcRef = onGpu(kc), vcRef = onGpu(vc);
        Matrix gt = RotaryTable.create(g, CAPACITY, d, 500000.0);
        Matrix gq = g.allocate(DType.F32, 1, heads * d), gk = g.allocate(DType.F32, 1, kv * d);
        Matrix gv = g.allocate(DType.F32, 1, kv * d);
        Matrix fused = g.allocate(DType.F32, 1, heads * d), ref = g.allocate(DType.F32, 1, heads * d);
        for (int s = 0; s < steps; s++) {
            int pos = first + s;
            put(random(1, heads * d, rnd), gq);
            put(random(1, kv * d, rnd), gk);
            put(random(1, kv * d, rnd), gv);
            g.rotaryAttention(gq, gk, gv, heads, kv, d, pos, gt, kcFused, vcFused, fused);
            g.rotaryKvWrite(gq, gk, gv, heads, kv, d, pos, gt, kcRef, vcRef);
            g.attentionKernels().splitK(gq, kcRef, vcRef, heads, kv, d, pos, ref);
            assertSameBits(ref, fused, "step at position " + pos);
        }
        assertSameBits(kcRef, kcFused, "K cache after the loop");
        assertSameBits(vcRef, vcFused, "V cache after the loop");
    }

    /**
     * In a CUDA graph: the fused op captured once with step inputs (the position read on the device from the step
     * block), replayed 50 times at increasing positions; each replay against the eager reference.
     */
    @ParameterizedTest
    @ValueSource(strings = {"16,8,64,0", "32,4,64,20", "32,8,128,500", "12,4,80,61"})
    void graphReplaysMatchEagerSteps(String shape) {
        String[] f = shape.split(",");
        int heads = Integer.parseInt(f[0]), kv = Integer.parseInt(f[1]), d = Integer.parseInt(f[2]);
        int first = Integer.parseInt(f[3]), steps = 50;
        Random rnd = new Random(7L * shape.hashCode());
        Matrix kc = random(CAPACITY, kv * d, rnd), vc = random(CAPACITY, kv * d, rnd);
        Matrix kcFused = onGpu(kc), vcFused = onGpu(vc), kcRef = onGpu(kc), vcRef = onGpu(vc);
        Matrix gt = RotaryTable.create(g, CAPACITY, d, 10000.0);
        Matrix gq = g.allocate(DType.F32, 1, heads * d), gk = g.allocate(DType.F32, 1, kv * d);
        Matrix gv = g.allocate(DType.F32, 1, kv * d);
        Matrix fused = g.allocate(DType.F32, 1, heads * d), ref = g.allocate(DType.F32, 1, heads * d);
        // eager once (allocates the scratch and the tickets: a capture must not), at a position the loop rewrites
        g.rotaryAttention(gq, gk, gv, heads, kv, d, first, gt, kcFused, vcFused, fused);
        g.synchronize();
        g.setStep(first, new int[0]);
        g.stepInputs(true);
        CudaGraph graph;
        try {
            graph = GraphCapture.capture(g.stream(),
                    () -> g.rotaryAttention(gq, gk, gv, heads, kv, d, first, gt, kcFused, vcFused, fused));
        } finally {
            g.stepInputs(false);
        }
        try (graph) {
            for (int s = 0; s < steps; s++) {
                int pos = first + s;
                put(random(1, heads * d, rnd), gq);
                put(random(1, kv * d, rnd), gk);
                put(random(1, kv * d, rnd), gv);
                g.setStep(pos, new int[0]);
                graph.launch(g.stream());
                g.rotaryKvWrite(gq, gk, gv, heads, kv, d, pos, gt, kcRef, vcRef);
                g.attentionKernels().splitK(gq, kcRef, vcRef, heads, kv, d, pos, ref);
                assertSameBits(ref, fused, "replay at position " + pos);   // the download synchronizes
            }
        }
        assertSameBits(kcRef, kcFused, "K cache after the replays");
        assertSameBits(vcRef, vcFused, "V cache after the replays");
    }

    /** Layouts the fused kernel does not take still give the right answer (rotaryKvWrite, then attention). */
    @ParameterizedTest
    @ValueSource(strings = {"20,1,64,77,1,0", "32,8,128,100,20,0", "16,8,64,45,1,4", "8,2,66,40,1,0"})
    void layoutsItDoesNotTakeFallBack(String shape) {
        String[] f = shape.split(",");
        int heads = Integer.parseInt(f[0]), kv = Integer.parseInt(f[1]), d = Integer.parseInt(f[2]);
        int start = Integer.parseInt(f[3]), rows = Integer.parseInt(f[4]), outOffset = Integer.parseInt(f[5]);
        Random rnd = new Random(shape.hashCode());
        Matrix q = random(rows, heads * d, rnd), k = random(rows, kv * d, rnd), v = random(rows, kv * d, rnd);
        Matrix kc = random(CAPACITY, kv * d, rnd), vc = random(CAPACITY, kv * d, rnd);
        Matrix gq = onGpu(q), gk = onGpu(k), gv = onGpu(v), gkc = onGpu(kc), gvc = onGpu(vc);
        Matrix ht = RotaryTable.create(h, CAPACITY, d, 10000.0), gt = RotaryTable.create(g, CAPACITY, d, 10000.0);
        Matrix room = g.allocate(DType.F32, rows + 1, heads * d);   // out misaligned by outOffset bytes
        Matrix out = new Matrix(room.buffer().slice(outOffset, 4L * rows * heads * d), DType.F32, rows, heads * d);
        boolean aligned = outOffset % 16 == 0;
        assertEquals(aligned && CudaAttention.fusedSupports(rows, heads, kv, d), false, "a fallback case");
        g.rotaryAttention(gq, gk, gv, heads, kv, d, start, gt, gkc, gvc, out);
        Matrix expected = h.allocate(DType.F32, rows, heads * d);
        h.rotaryAttention(q, k, v, heads, kv, d, start, ht, kc, vc, expected);   // the default: write, then attention
        assertClose(kc, gkc, 1e-6, "K cache");
        assertClose(vc, gvc, 0, "V cache");
        // more rows than a decode step take the prefill kernel: on tensor cores (TF32 inputs, 2^-11 relative
        // rounding; CudaPrefillAttentionTest derives 4e-3) where it applies, else f32
        boolean tensorCores = rows > 16 && aligned && CudaAttention.prefillTcSupports(heads, kv, d);
        assertClose(expected, out, tensorCores ? 4e-3 : 2e-5, "output");
    }
}
