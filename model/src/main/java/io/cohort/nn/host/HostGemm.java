package io.cohort.nn.host;

import io.cohort.core.DType;
import io.cohort.nn.Matrix;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code out = a · wᵀ} on the CPU with the Vector API. Both operands are row-major with k contiguous, so each
 * output is a dot product of two contiguous rows. Two paths:
 * <ul>
 *   <li>many rows of a (prefill): a is converted to f32 once per call (activations are small); w is walked in
 *       panels of {@value #NR} rows, each widened to f32 once into a per-thread panel that stays in L1/L2 while
 *       every row of a streams past it, so the inner loop is pure f32 FMA; the inner kernel computes a
 *       {@value #MR} x {@value #NR} tile with 8 vector accumulators (each loaded value feeds {@value #NR} or
 *       {@value #MR} FMAs);</li>
 *   <li>fewer than {@value #STREAM_ROWS} rows (decode): packing would cost as much as the product, so f32 and
 *       bf16 weights are read in place, {@value #NR} rows at a time (see {@link #streamed}).</li>
 * </ul>
 * Panels are split across the worker threads (disjoint output columns, no synchronization but the join).
 * Accumulation is f32 in vector lanes, reduced across lanes at the end of each dot product.
 */
final class HostGemm {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** bf16 values one int vector load covers: two per int lane. */
    private static final int PAIR = 2 * F.length();
    private static final int HIGH = 0xffff0000;
    /** Below this many rows of a, f32/bf16 weights are read in place instead of packed (decode: m = 1). */
    static final int STREAM_ROWS = 4;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final int NR = 4;
    static final int MR = 2;

    private final ExecutorService workers;
    private final int threads;
    private float[] packedA = new float[0];

    /** {@code workers} runs {@code threads - 1} panel ranges beside the calling thread (null when threads = 1). */
    HostGemm(ExecutorService workers, int threads) {
        this.workers = workers;
        this.threads = threads;
    }

    void multiply(Matrix a, Matrix w, Matrix out) {
        int m = a.rows();
        int k = a.cols();
        int n = w.rows();
        if (w.cols() != k || out.rows() != m || out.cols() != n) {
            throw new IllegalArgumentException("matmulT shapes: a " + m + "x" + k + ", w " + n + "x" + w.cols()
                    + ", out " + out.rows() + "x" + out.cols() + " (need w " + n + "x" + k + ", out " + m + "x" + n + ")");
        }
        if (m == 0 || n == 0) {
            return;
        }
        boolean stream = m < STREAM_ROWS && w.dtype() != DType.F16;
        float[] ap = stream && w.dtype() == DType.BF16 ? packPaired(packA(a, m, k), m, k) : packA(a, m, k);
        int panels = (n + NR - 1) / NR;
        int chunks = Math.min(threads, panels);
        if (chunks <= 1 || workers == null) {
            run(stream, ap, m, k, w, out, 0, panels);
            return;
        }
        List<Future<?>> pending = new ArrayList<>(chunks - 1);
        for (int c = 1; c < chunks; c++) {
            int p0 = (int) ((long) panels * c / chunks);
            int p1 = (int) ((long) panels * (c + 1) / chunks);
            pending.add(workers.submit(() -> run(stream, ap, m, k, w, out, p0, p1)));
        }
        run(stream, ap, m, k, w, out, 0, panels / chunks);
        for (Future<?> f : pending) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted in a host GEMM", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("host GEMM worker failed: " + e.getCause(), e.getCause());
            }
        }
    }

    private static void run(boolean stream, float[] ap, int m, int k, Matrix w, Matrix out, int p0, int p1) {
        if (stream) {
            streamed(ap, m, k, w, out, p0, p1);
        } else {
            panels(ap, m, k, w, out, p0, p1);
        }
    }

    /**
     * The few-rows path (decode): packing w would cost as much as the product, so weights are read where they
     * lie, {@value #NR} rows of w at a time. bf16 weights are widened in registers without any shuffle: one int
     * vector holds 2·L bf16 values; {@code x << 16} is the even ones as f32, {@code x & 0xffff0000} the odd ones,
     * and a was packed with each 2·L chunk split into its even then its odd elements ({@link #packPaired}) to
     * match.
     */
    private static void streamed(float[] ap, int m, int k, Matrix w, Matrix out, int p0, int p1) {
        int n = w.rows();
        MemorySegment ws = w.buffer().segment();
        MemorySegment os = out.buffer().segment();
        boolean bf16 = w.dtype() == DType.BF16;
        long rowBytes = (long) k * w.dtype().bytes();
        int bound = k - k % (bf16 ? PAIR : F.length());
        float[] tile = new float[NR];
        for (int p = p0; p < p1; p++) {
            int j0 = p * NR;
            int nr = Math.min(NR, n - j0);
            for (int i = 0; i < m; i++) {
                int a0 = i * k;
                if (nr == NR) {
                    if (bf16) {
                        bf16Tile(ap, a0, ws, j0 * rowBytes, rowBytes, bound, tile);
                    } else {
                        f32Tile(ap, a0, ws, j0 * rowBytes, rowBytes, bound, tile);
                    }
                    for (int c = 0; c < NR; c++) {
                        long row = (long) (j0 + c) * k;
                        float sum = tile[c];
                        for (int kk = bound; kk < k; kk++) {
                            sum += ap[a0 + kk] * w.dtype().get(ws, row + kk);
                        }
                        store(os, out.dtype(), (long) i * n + j0 + c, sum);
                    }
                } else {
                    for (int c = 0; c < nr; c++) {
                        long row = (long) (j0 + c) * k;
                        float sum = 0;
                        for (int kk = 0; kk < k; kk++) {
                            sum += ap[a0 + (bf16 ? pairedIndex(kk, bound) : kk)] * w.dtype().get(ws, row + kk);
                        }
                        store(os, out.dtype(), (long) i * n + j0 + c, sum);
                    }
                }
            }
        }
    }

    /** One row of a against 4 f32 weight rows starting at byte {@code r0}, over k in [0, bound). */
    private static void f32Tile(float[] ap, int a0, MemorySegment ws, long r0, long rowBytes, int bound, float[] tile) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        long r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        for (int kk = 0; kk < bound; kk += F.length()) {
            FloatVector x = FloatVector.fromArray(F, ap, a0 + kk);
            long off = 4L * kk;
            c0 = x.fma(FloatVector.fromMemorySegment(F, ws, r0 + off, ByteOrder.LITTLE_ENDIAN), c0);
            c1 = x.fma(FloatVector.fromMemorySegment(F, ws, r1 + off, ByteOrder.LITTLE_ENDIAN), c1);
            c2 = x.fma(FloatVector.fromMemorySegment(F, ws, r2 + off, ByteOrder.LITTLE_ENDIAN), c2);
            c3 = x.fma(FloatVector.fromMemorySegment(F, ws, r3 + off, ByteOrder.LITTLE_ENDIAN), c3);
        }
        tile[0] = Lanes.sum(c0);
        tile[1] = Lanes.sum(c1);
        tile[2] = Lanes.sum(c2);
        tile[3] = Lanes.sum(c3);
    }

    /** One row of the paired a against 4 bf16 weight rows starting at byte {@code r0}, over k in [0, bound). */
    private static void bf16Tile(float[] ap, int a0, MemorySegment ws, long r0, long rowBytes, int bound, float[] tile) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        long r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        int lanes = F.length();
        for (int kk = 0; kk < bound; kk += PAIR) {
            FloatVector even = FloatVector.fromArray(F, ap, a0 + kk);
            FloatVector odd = FloatVector.fromArray(F, ap, a0 + kk + lanes);
            long off = 2L * kk;
            IntVector w0 = IntVector.fromMemorySegment(I, ws, r0 + off, ByteOrder.LITTLE_ENDIAN);
            IntVector w1 = IntVector.fromMemorySegment(I, ws, r1 + off, ByteOrder.LITTLE_ENDIAN);
            IntVector w2 = IntVector.fromMemorySegment(I, ws, r2 + off, ByteOrder.LITTLE_ENDIAN);
            IntVector w3 = IntVector.fromMemorySegment(I, ws, r3 + off, ByteOrder.LITTLE_ENDIAN);
            c0 = odd.fma(w0.and(HIGH).reinterpretAsFloats(), even.fma(w0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c0));
            c1 = odd.fma(w1.and(HIGH).reinterpretAsFloats(), even.fma(w1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c1));
            c2 = odd.fma(w2.and(HIGH).reinterpretAsFloats(), even.fma(w2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c2));
            c3 = odd.fma(w3.and(HIGH).reinterpretAsFloats(), even.fma(w3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c3));
        }
        tile[0] = Lanes.sum(c0);
        tile[1] = Lanes.sum(c1);
        tile[2] = Lanes.sum(c2);
        tile[3] = Lanes.sum(c3);
    }

    /** Where element kk of a row sits after {@link #packPaired} (identity for the tail past {@code bound}). */
    private static int pairedIndex(int kk, int bound) {
        if (kk >= bound) {
            return kk;
        }
        int chunk = kk - kk % PAIR;
        int within = kk % PAIR;
        return chunk + (within % 2 == 0 ? within / 2 : F.length() + within / 2);
    }

    private float[] paired = new float[0];

    /** Rows of a with every full 2·L chunk reordered to its even elements, then its odd ones. */
    private float[] packPaired(float[] ap, int m, int k) {
        if (paired.length < m * k) {
            paired = new float[m * k];
        }
        int bound = k - k % PAIR;
        for (int i = 0; i < m; i++) {
            int base = i * k;
            for (int kk = 0; kk < k; kk++) {
                paired[base + pairedIndex(kk, bound)] = ap[base + kk];
            }
        }
        return paired;
    }

    private float[] packA(Matrix a, int m, int k) {
        int len = m * k;
        if (packedA.length < len) {
            packedA = new float[len];
        }
        widen(a.buffer().segment(), a.dtype(), 0, packedA, 0, len, null);
        return packedA;
    }

    /** Converts {@code len} elements at element {@code from} of seg to f32 into dst at {@code at}. */
    private static void widen(MemorySegment seg, DType dtype, long from, float[] dst, int at, int len, short[] tmp) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(seg, F32, from * 4, dst, at, len);
            case BF16 -> {
                short[] s = tmp != null && tmp.length >= len ? tmp : new short[len];
                MemorySegment.copy(seg, I16, from * 2, s, 0, len);
                for (int i = 0; i < len; i++) {
                    dst[at + i] = Float.intBitsToFloat(s[i] << 16);
                }
            }
            case F16 -> {
                short[] s = tmp != null && tmp.length >= len ? tmp : new short[len];
                MemorySegment.copy(seg, I16, from * 2, s, 0, len);
                for (int i = 0; i < len; i++) {
                    dst[at + i] = Float.float16ToFloat(s[i]);
                }
            }
        }
    }

    private static void panels(float[] ap, int m, int k, Matrix w, Matrix out, int p0, int p1) {
        int n = w.rows();
        float[] panel = new float[NR * k];
        short[] tmp = new short[k];
        MemorySegment ws = w.buffer().segment();
        MemorySegment os = out.buffer().segment();
        DType ot = out.dtype();
        float[] tile = new float[MR * NR];
        for (int p = p0; p < p1; p++) {
            int j0 = p * NR;
            int nr = Math.min(NR, n - j0);
            for (int r = 0; r < nr; r++) {
                widen(ws, w.dtype(), (long) (j0 + r) * k, panel, r * k, k, tmp);
            }
            int i = 0;
            if (nr == NR) {
                for (; i + MR <= m; i += MR) {
                    tile2x4(ap, i * k, (i + 1) * k, panel, k, tile);
                    for (int r = 0; r < MR; r++) {
                        for (int c = 0; c < NR; c++) {
                            store(os, ot, (long) (i + r) * n + j0 + c, tile[r * NR + c]);
                        }
                    }
                }
                for (; i < m; i++) {
                    tile1x4(ap, i * k, panel, k, tile);
                    for (int c = 0; c < NR; c++) {
                        store(os, ot, (long) i * n + j0 + c, tile[c]);
                    }
                }
            } else {
                for (; i < m; i++) {
                    for (int c = 0; c < nr; c++) {
                        store(os, ot, (long) i * n + j0 + c, dot(ap, i * k, panel, c * k, k));
                    }
                }
            }
        }
    }

    private static void store(MemorySegment seg, DType dtype, long index, float v) {
        if (dtype == DType.F32) {
            seg.setAtIndex(F32, index, v);
        } else {
            dtype.set(seg, index, v);
        }
    }

    private static void tile2x4(float[] a, int a0, int a1, float[] b, int k, float[] tile) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        int b1 = k, b2 = 2 * k, b3 = 3 * k;
        int bound = F.loopBound(k);
        int kk = 0;
        for (; kk < bound; kk += F.length()) {
            FloatVector x0 = FloatVector.fromArray(F, a, a0 + kk);
            FloatVector x1 = FloatVector.fromArray(F, a, a1 + kk);
            FloatVector y = FloatVector.fromArray(F, b, kk);
            c00 = x0.fma(y, c00);
            c10 = x1.fma(y, c10);
            y = FloatVector.fromArray(F, b, b1 + kk);
            c01 = x0.fma(y, c01);
            c11 = x1.fma(y, c11);
            y = FloatVector.fromArray(F, b, b2 + kk);
            c02 = x0.fma(y, c02);
            c12 = x1.fma(y, c12);
            y = FloatVector.fromArray(F, b, b3 + kk);
            c03 = x0.fma(y, c03);
            c13 = x1.fma(y, c13);
        }
        float s00 = Lanes.sum(c00), s01 = Lanes.sum(c01);
        float s02 = Lanes.sum(c02), s03 = Lanes.sum(c03);
        float s10 = Lanes.sum(c10), s11 = Lanes.sum(c11);
        float s12 = Lanes.sum(c12), s13 = Lanes.sum(c13);
        for (; kk < k; kk++) {
            float x0 = a[a0 + kk], x1 = a[a1 + kk];
            s00 += x0 * b[kk];
            s01 += x0 * b[b1 + kk];
            s02 += x0 * b[b2 + kk];
            s03 += x0 * b[b3 + kk];
            s10 += x1 * b[kk];
            s11 += x1 * b[b1 + kk];
            s12 += x1 * b[b2 + kk];
            s13 += x1 * b[b3 + kk];
        }
        tile[0] = s00;
        tile[1] = s01;
        tile[2] = s02;
        tile[3] = s03;
        tile[4] = s10;
        tile[5] = s11;
        tile[6] = s12;
        tile[7] = s13;
    }

    private static void tile1x4(float[] a, int a0, float[] b, int k, float[] tile) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int b1 = k, b2 = 2 * k, b3 = 3 * k;
        int bound = F.loopBound(k);
        int kk = 0;
        for (; kk < bound; kk += F.length()) {
            FloatVector x = FloatVector.fromArray(F, a, a0 + kk);
            c0 = x.fma(FloatVector.fromArray(F, b, kk), c0);
            c1 = x.fma(FloatVector.fromArray(F, b, b1 + kk), c1);
            c2 = x.fma(FloatVector.fromArray(F, b, b2 + kk), c2);
            c3 = x.fma(FloatVector.fromArray(F, b, b3 + kk), c3);
        }
        float s0 = Lanes.sum(c0), s1 = Lanes.sum(c1);
        float s2 = Lanes.sum(c2), s3 = Lanes.sum(c3);
        for (; kk < k; kk++) {
            float x = a[a0 + kk];
            s0 += x * b[kk];
            s1 += x * b[b1 + kk];
            s2 += x * b[b2 + kk];
            s3 += x * b[b3 + kk];
        }
        tile[0] = s0;
        tile[1] = s1;
        tile[2] = s2;
        tile[3] = s3;
    }

    static float dot(float[] a, int a0, float[] b, int b0, int k) {
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(k);
        int kk = 0;
        for (; kk < bound; kk += F.length()) {
            acc = FloatVector.fromArray(F, a, a0 + kk).fma(FloatVector.fromArray(F, b, b0 + kk), acc);
        }
        float s = Lanes.sum(acc);
        for (; kk < k; kk++) {
            s += a[a0 + kk] * b[b0 + kk];
        }
        return s;
    }
}
