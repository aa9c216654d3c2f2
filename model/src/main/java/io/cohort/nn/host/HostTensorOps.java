package io.cohort.nn.host;

import io.cohort.core.DType;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceKind;
import io.cohort.device.DeviceStream;
import io.cohort.nn.Matrix;
import io.cohort.nn.TensorOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TensorOps} on host memory, computed on the calling thread (the rank's thread) plus {@code threads - 1}
 * GEMM workers of its own. Synchronous: every call has finished when it returns. Element-wise ops read and
 * write through {@link DType#get}/{@link DType#set} and compute in f32; GEMM is {@link HostGemm}.
 */
public final class HostTensorOps implements TensorOps {
    private final Device device;
    private final ExecutorService workers;
    private final HostGemm gemm;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private DeviceStream orderedStream;
    private DeviceEvent orderedEvent;
    private float[] scores = new float[0];
    private float[] context = new float[0];

    /** {@code threads}: CPU threads this rank's GEMMs may use (the rank's own thread included). */
    public HostTensorOps(Device device, int threads) {
        if (device.kind() != DeviceKind.HOST) {
            throw new IllegalArgumentException("host tensor ops on " + device.name());
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads " + threads);
        }
        this.device = device;
        this.workers = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "gemm-" + device.name());
            t.setDaemon(true);
            return t;
        });
        this.gemm = new HostGemm(workers, threads);
    }

    @Override
    public Device device() {
        return device;
    }

    /** Every call has finished when it returns: nothing to order. */
    @Override
    public void orderBefore(DeviceStream stream) {
    }

    /** Computing on this thread, the ops read a stream's results once the stream is done with them: wait for it. */
    @Override
    public void orderAfter(DeviceStream stream) {
        if (stream != orderedStream) {
            if (orderedEvent != null) {
                orderedEvent.close();
            }
            orderedEvent = stream.device().createEvent();
            orderedStream = stream;
        }
        stream.record(orderedEvent);
        orderedEvent.synchronize();
    }

    @Override
    public Matrix allocate(DType dtype, int rows, int cols) {
        long bytes = Math.max(Matrix.byteSize(dtype, rows, cols), 1);
        return new Matrix(device.allocate(bytes), dtype, rows, cols);
    }

    @Override
    public void free(Matrix matrix) {
        device.free(matrix.buffer());
    }

    @Override
    public void upload(MemorySegment src, DeviceBuffer dst, long dstOffset) {
        MemorySegment.copy(src, 0, dst.segment(), dstOffset, src.byteSize());
    }

    @Override
    public void download(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        MemorySegment.copy(src.segment(), srcOffset, dst, 0, dst.byteSize());
    }

    @Override
    public void matmulT(Matrix a, Matrix w, Matrix out) {
        gemm.multiply(a, w, out);
    }

    @Override
    public void rmsNorm(Matrix x, Matrix weight, float eps, Matrix out) {
        sameShape(x, out, "rmsNorm");
        if (weight.elements() != x.cols()) {
            throw new IllegalArgumentException("rmsNorm weight has " + weight.elements() + " elements for " + x.cols() + " columns");
        }
        MemorySegment xs = x.buffer().segment(), ws = weight.buffer().segment(), os = out.buffer().segment();
        int n = x.cols();
        if (x.dtype() == DType.F32 && out.dtype() == DType.F32 && weight.dtype() == DType.F32) {
            rmsNormF32(xs, ws, os, x.rows(), n, eps);
            return;
        }
        for (int r = 0; r < x.rows(); r++) {
            long base = (long) r * n;
            float sum = 0;
            for (int c = 0; c < n; c++) {
                float v = x.dtype().get(xs, base + c);
                sum += v * v;
            }
            float inv = (float) (1.0 / Math.sqrt(sum / n + eps));
            for (int c = 0; c < n; c++) {
                out.dtype().set(os, base + c, x.dtype().get(xs, base + c) * inv * weight.dtype().get(ws, c));
            }
        }
    }

    private static void rmsNormF32(MemorySegment xs, MemorySegment ws, MemorySegment os, int rows, int n, float eps) {
        int bound = F.loopBound(n);
        for (int r = 0; r < rows; r++) {
            long base = 4L * r * n;
            FloatVector acc = FloatVector.zero(F);
            int c = 0;
            for (; c < bound; c += F.length()) {
                FloatVector v = FloatVector.fromMemorySegment(F, xs, base + 4L * c, ByteOrder.nativeOrder());
                acc = v.fma(v, acc);
            }
            float sum = Lanes.sum(acc);
            for (; c < n; c++) {
                float v = xs.get(F32, base + 4L * c);
                sum += v * v;
            }
            float inv = (float) (1.0 / Math.sqrt(sum / n + eps));
            c = 0;
            for (; c < bound; c += F.length()) {
                FloatVector.fromMemorySegment(F, xs, base + 4L * c, ByteOrder.nativeOrder()).mul(inv)
                        .mul(FloatVector.fromMemorySegment(F, ws, 4L * c, ByteOrder.nativeOrder()))
                        .intoMemorySegment(os, base + 4L * c, ByteOrder.nativeOrder());
            }
            for (; c < n; c++) {
                os.set(F32, base + 4L * c, xs.get(F32, base + 4L * c) * inv * ws.get(F32, 4L * c));
            }
        }
    }

    @Override
    public void rotary(Matrix x, int heads, int headDim, int startPos, Matrix table) {
        if (x.cols() != heads * headDim || table.cols() != headDim) {
            throw new IllegalArgumentException("rotary: " + x + " is not " + heads + " heads of " + headDim
                    + " or table " + table + " does not match");
        }
        if (startPos + x.rows() > table.rows()) {
            throw new IllegalArgumentException("position " + (startPos + x.rows() - 1) + " beyond the rotary table's "
                    + table.rows() + " positions (max_position_embeddings)");
        }
        MemorySegment xs = x.buffer().segment(), ts = table.buffer().segment();
        DType xt = x.dtype();
        int half = headDim / 2;
        for (int t = 0; t < x.rows(); t++) {
            long trow = (long) (startPos + t) * headDim;
            for (int h = 0; h < heads; h++) {
                long base = (long) t * x.cols() + (long) h * headDim;
                for (int i = 0; i < half; i++) {
                    float cos = table.dtype().get(ts, trow + i);
                    float sin = table.dtype().get(ts, trow + half + i);
                    float x1 = xt.get(xs, base + i);
                    float x2 = xt.get(xs, base + half + i);
                    xt.set(xs, base + i, x1 * cos - x2 * sin);
                    xt.set(xs, base + half + i, x2 * cos + x1 * sin);
                }
            }
        }
    }

    @Override
    public void siluMul(Matrix gate, Matrix up, Matrix out) {
        sameShape(gate, up, "siluMul");
        sameShape(gate, out, "siluMul");
        MemorySegment gs = gate.buffer().segment(), us = up.buffer().segment(), os = out.buffer().segment();
        for (long i = 0; i < gate.elements(); i++) {
            float g = gate.dtype().get(gs, i);
            out.dtype().set(os, i, g / (1f + (float) Math.exp(-g)) * up.dtype().get(us, i));
        }
    }

    @Override
    public void siluMulPacked(Matrix gateUp, Matrix out) {
        int f = out.cols();
        if (gateUp.rows() != out.rows() || gateUp.cols() != 2 * f) {
            throw new IllegalArgumentException("siluMulPacked: " + gateUp + " is not gate|up for " + out);
        }
        MemorySegment gs = gateUp.buffer().segment(), os = out.buffer().segment();
        DType gt = gateUp.dtype(), ot = out.dtype();
        for (long t = 0; t < out.rows(); t++) {
            long in = t * 2 * f, o = t * f;
            for (int i = 0; i < f; i++) {
                float g = gt.get(gs, in + i);
                ot.set(os, o + i, g / (1f + (float) Math.exp(-g)) * gt.get(gs, in + f + i));
            }
        }
    }

    @Override
    public void add(Matrix a, Matrix b, Matrix out) {
        sameShape(a, b, "add");
        sameShape(a, out, "add");
        MemorySegment as = a.buffer().segment(), bs = b.buffer().segment(), os = out.buffer().segment();
        long i = 0;
        if (a.dtype() == DType.F32 && b.dtype() == DType.F32 && out.dtype() == DType.F32) {
            long bound = 4L * F.loopBound(a.elements());
            for (long at = 0; at < bound; at += F.vectorByteSize()) {
                FloatVector.fromMemorySegment(F, as, at, ByteOrder.nativeOrder())
                        .add(FloatVector.fromMemorySegment(F, bs, at, ByteOrder.nativeOrder()))
                        .intoMemorySegment(os, at, ByteOrder.nativeOrder());
            }
            i = bound / 4;
        }
        for (; i < a.elements(); i++) {
            out.dtype().set(os, i, a.dtype().get(as, i) + b.dtype().get(bs, i));
        }
    }

    @Override
    public void copyColumns(Matrix src, int fromCol, Matrix dst) {
        checkColumns(src, fromCol, dst);
        long e = src.dtype().bytes();
        long srcRow = src.cols() * e, dstRow = dst.cols() * e;
        MemorySegment s = src.buffer().segment(), d = dst.buffer().segment();
        for (long r = 0; r < src.rows(); r++) {
            MemorySegment.copy(s, r * srcRow + fromCol * e, d, r * dstRow, dstRow);
        }
    }

    /** The shapes {@link #copyColumns} takes, for every implementation. */
    public static void checkColumns(Matrix src, int fromCol, Matrix dst) {
        if (src.dtype() != dst.dtype() || src.rows() != dst.rows() || fromCol < 0 || fromCol + dst.cols() > src.cols()) {
            throw new IllegalArgumentException("copyColumns: columns " + fromCol + "+" + dst.cols() + " of " + src
                    + " into " + dst);
        }
    }

    @Override
    public void embed(Matrix table, int vocabStart, int[] tokens, Matrix out) {
        if (out.rows() != tokens.length || out.cols() != table.cols()) {
            throw new IllegalArgumentException("embed: " + tokens.length + " tokens into " + out);
        }
        MemorySegment ts = table.buffer().segment(), os = out.buffer().segment();
        int n = table.cols();
        for (int t = 0; t < tokens.length; t++) {
            int local = tokens[t] - vocabStart;
            long dst = (long) t * n;
            if (local >= 0 && local < table.rows()) {
                long src = (long) local * n;
                for (int c = 0; c < n; c++) {
                    out.dtype().set(os, dst + c, table.dtype().get(ts, src + c));
                }
            } else {
                out.buffer().slice(dst * out.dtype().bytes(), (long) n * out.dtype().bytes()).segment().fill((byte) 0);
            }
        }
    }

    @Override
    public void copyRows(Matrix src, Matrix dst, int dstRow) {
        if (src.cols() != dst.cols() || dstRow < 0 || dstRow + src.rows() > dst.rows()) {
            throw new IllegalArgumentException("copyRows: " + src + " into row " + dstRow + " of " + dst);
        }
        MemorySegment ss = src.buffer().segment(), ds = dst.buffer().segment();
        long base = (long) dstRow * dst.cols();
        if (src.dtype() == dst.dtype()) {
            MemorySegment.copy(ss, 0, ds, base * dst.dtype().bytes(), src.byteSize());
            return;
        }
        for (long i = 0; i < src.elements(); i++) {
            dst.dtype().set(ds, base + i, src.dtype().get(ss, i));
        }
    }

    @Override
    public void attention(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim, int startPos,
                          Matrix out) {
        if (heads % kvHeads != 0 || q.cols() != heads * headDim || kCache.cols() != kvHeads * headDim
                || vCache.cols() != kCache.cols() || out.rows() != q.rows() || out.cols() != q.cols()) {
            throw new IllegalArgumentException("attention shapes: q " + q + ", k " + kCache + ", v " + vCache
                    + ", out " + out + " for " + heads + " heads, " + kvHeads + " kv heads of " + headDim);
        }
        if (startPos + q.rows() > kCache.rows()) {
            throw new IllegalArgumentException("attention past the KV cache: position " + (startPos + q.rows() - 1)
                    + " of " + kCache.rows());
        }
        int group = heads / kvHeads;
        int span = startPos + q.rows();
        if (scores.length < span) {
            scores = new float[span];
        }
        if (q.dtype() == DType.F32 && kCache.dtype() == DType.F32 && vCache.dtype() == DType.F32
                && out.dtype() == DType.F32) {
            attentionF32(q, kCache, vCache, heads, group, headDim, startPos, out);
            return;
        }
        float[] s = scores;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        MemorySegment qs = q.buffer().segment(), ks = kCache.buffer().segment(), vs = vCache.buffer().segment();
        MemorySegment os = out.buffer().segment();
        DType qt = q.dtype(), kt = kCache.dtype(), vt = vCache.dtype(), ot = out.dtype();
        for (int t = 0; t < q.rows(); t++) {
            int last = startPos + t;
            for (int h = 0; h < heads; h++) {
                long qBase = (long) t * q.cols() + (long) h * headDim;
                long kvCol = (long) (h / group) * headDim;
                float max = Float.NEGATIVE_INFINITY;
                for (int p = 0; p <= last; p++) {
                    long kBase = (long) p * kCache.cols() + kvCol;
                    float dot = 0;
                    for (int i = 0; i < headDim; i++) {
                        dot += qt.get(qs, qBase + i) * kt.get(ks, kBase + i);
                    }
                    s[p] = dot * scale;
                    max = Math.max(max, s[p]);
                }
                float sum = 0;
                for (int p = 0; p <= last; p++) {
                    s[p] = (float) Math.exp(s[p] - max);
                    sum += s[p];
                }
                float inv = 1f / sum;
                for (int i = 0; i < headDim; i++) {
                    float acc = 0;
                    for (int p = 0; p <= last; p++) {
                        acc += s[p] * vt.get(vs, (long) p * vCache.cols() + kvCol + i);
                    }
                    ot.set(os, qBase + i, acc * inv);
                }
            }
        }
    }

    /** {@link #attention} for f32 everything (the model's case): dot products and the weighted sum vectorized. */
    private void attentionF32(Matrix q, Matrix kCache, Matrix vCache, int heads, int group, int headDim, int startPos,
                              Matrix out) {
        if (context.length < headDim) {
            context = new float[headDim];
        }
        float[] s = scores, acc = context;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        MemorySegment qs = q.buffer().segment(), ks = kCache.buffer().segment(), vs = vCache.buffer().segment();
        MemorySegment os = out.buffer().segment();
        long kvRow = 4L * kCache.cols();
        int bound = F.loopBound(headDim);
        for (int t = 0; t < q.rows(); t++) {
            int last = startPos + t;
            for (int h = 0; h < heads; h++) {
                long qAt = 4L * ((long) t * q.cols() + (long) h * headDim);
                long kvCol = 4L * (h / group) * headDim;
                float max = Float.NEGATIVE_INFINITY;
                for (int p = 0; p <= last; p++) {
                    long kAt = p * kvRow + kvCol;
                    FloatVector dot = FloatVector.zero(F);
                    int i = 0;
                    for (; i < bound; i += F.length()) {
                        dot = FloatVector.fromMemorySegment(F, qs, qAt + 4L * i, ByteOrder.nativeOrder())
                                .fma(FloatVector.fromMemorySegment(F, ks, kAt + 4L * i, ByteOrder.nativeOrder()), dot);
                    }
                    float d = Lanes.sum(dot);
                    for (; i < headDim; i++) {
                        d += qs.get(F32, qAt + 4L * i) * ks.get(F32, kAt + 4L * i);
                    }
                    s[p] = d * scale;
                    max = Math.max(max, s[p]);
                }
                float sum = 0;
                for (int p = 0; p <= last; p++) {
                    s[p] = (float) Math.exp(s[p] - max);
                    sum += s[p];
                }
                java.util.Arrays.fill(acc, 0, headDim, 0f);
                for (int p = 0; p <= last; p++) {
                    long vAt = p * kvRow + kvCol;
                    FloatVector weight = FloatVector.broadcast(F, s[p]);
                    int i = 0;
                    for (; i < bound; i += F.length()) {
                        FloatVector.fromMemorySegment(F, vs, vAt + 4L * i, ByteOrder.nativeOrder())
                                .fma(weight, FloatVector.fromArray(F, acc, i)).intoArray(acc, i);
                    }
                    for (; i < headDim; i++) {
                        acc[i] += s[p] * vs.get(F32, vAt + 4L * i);
                    }
                }
                float inv = 1f / sum;
                long oAt = qAt;
                for (int i = 0; i < headDim; i++) {
                    os.set(F32, oAt + 4L * i, acc[i] * inv);
                }
            }
        }
    }

    @Override
    public void synchronize() {
        // every call completes before it returns
    }

    @Override
    public void close() {
        if (orderedEvent != null) {
            orderedEvent.close();
        }
        if (workers != null) {
            workers.shutdownNow();
        }
    }

    private static void sameShape(Matrix a, Matrix b, String op) {
        if (a.rows() != b.rows() || a.cols() != b.cols()) {
            throw new IllegalArgumentException(op + ": shapes differ, " + a + " vs " + b);
        }
    }
}
