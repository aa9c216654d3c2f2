package io.cohort.cuda.bench;

import io.cohort.core.DType;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.CudaStream;
import io.cohort.model.LlamaConfig;
import io.cohort.nn.Matrix;
import io.cohort.nn.RotaryTable;
import io.cohort.nn.cuda.CudaAttention;
import io.cohort.nn.cuda.CudaTensorOps;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Device time and achieved bandwidth of every op of one decode step (tp = 1, bf16 weights, f32 activations as
 * CudaTensorOps runs them) at the three shapes of the decode issues: 8 x 1024, TinyLlama-1.1B, Llama-3-8B. Each
 * figure is reported against the copy bandwidth measured in the same run (cuMemcpy device to device of 1 GiB,
 * read + write counted), the roofline a decode op can reach.
 *
 * <p>Method (as {@code P2pKernelBench}): the op's stream waits behind a host-released flag while a batch of
 * calls is enqueued, so CUDA events time the device alone, not Java's launch rate; median of 5 batches.
 * Bytes per op: weights read + activations read and written (the KV cache read for attention). GEMM rows
 * rotate through copies of the weight holding {@value #ROTATED_BYTES} bytes together (a decode step streams its
 * weights from HBM; one weight read again at once would come partly from L2); the other rows reuse theirs. Every GEMM
 * row is followed by a {@code _cublas} row: the same GEMM with the GEMV kernels off (cast + cuBLAS). The fused
 * projections ({@code o_proj_addnorm}, {@code down_silu}, {@code down_silu_addnorm}) each come with the
 * unfused sequence they replace ({@code o_proj+addnorm}, {@code silu+down}, {@code silu+down+addnorm}).
 * Prefill attention: {@code attn_prefill_*} rows are {@value #PREFILL} query rows ending at the context's last
 * position (online = f32 SIMT kernel, tc = tensor cores), {@code attn_prefill0_*} a whole {@value #CONTEXT}-token
 * prompt from position 0 (the prefill target's case).
 * usage: DecodeOpsBench [out-file]   (needs a GPU; run on the GPU machine, see cuda/README.md)
 */
public final class DecodeOpsBench {
    private static final int CONTEXT = 512;   // KV positions attention reads
    private static final int PREFILL = 128;
    private static final int SHORT = 64;      // the decode rows' short context (the model bench's positions)   // query rows of the prefill attention rows
    private static final int[] TOKENS = {1, 4, 16};
    /** What the rotated weights of a GEMM row hold together: five times an H200's 50 MB L2. */
    static final long ROTATED_BYTES = 256L << 20;

    record Shape(String name, LlamaConfig config) {
    }

    static final List<Shape> SHAPES = List.of(
            new Shape("8x1024", new LlamaConfig("llama", 1024, 2816, 8, 16, 8, 64, 8192, 1e-5, 10000.0, 2048, false)),
            new Shape("tinyllama", new LlamaConfig("llama", 2048, 5632, 22, 32, 4, 64, 32000, 1e-5, 10000.0, 2048, false)),
            new Shape("llama3-8b", new LlamaConfig("llama", 4096, 14336, 32, 32, 8, 128, 128256, 1e-5, 500000.0, 8192, false)));

    private final CudaDevice d;
    private final CudaTensorOps ops;
    private final CudaStream stream;
    private final GatedTimer timer;
    private final java.util.Map<Long, Double> copyAtSize = new java.util.HashMap<>();

    private DecodeOpsBench(CudaDevice d) {
        this.d = d;
        this.ops = new CudaTensorOps(d);
        ops.useFusedGemv(true);   // the *_addnorm rows time the opt-in fused kernels, not the unfused fallback
        this.stream = ops.stream();
        this.timer = new GatedTimer(d, stream);
    }

    public static void main(String[] args) throws IOException {
        CudaDevice d = CudaDevices.open(0);
        DecodeOpsBench b = new DecodeOpsBench(d);
        double copyGBs = b.timer.copyBandwidth(1L << 30);
        StringBuilder out = new StringBuilder();
        out.append("# decode ops, tp = 1, bf16 weights, f32 activations (CudaTensorOps); ").append(d.name()).append("; ")
                .append(Instant.now()).append('\n')
                .append(String.format(Locale.ROOT, "# copy bandwidth (D2D cuMemcpy of 1 GiB, read + write): %.0f GB/s%n", copyGBs))
                .append("# device_us: flag-gated batch, CUDA events, median of ").append(GatedTimer.RUNS)
                .append(" batches; GB/s: (weights + activations) / time; %copy: of the copy bandwidth above\n")
                .append("# GEMM rows: consecutive calls read different copies of the weight, 256 MiB together (not from L2)\n")
                .append("# %copy@w: of the copy bandwidth of a D2D copy of the op's weight bytes, timed the same way and rotated\n")
                .append("#   alike (its launch and tail included, as the op's are; GEMM rows only)\n");
        out.append(String.format(Locale.ROOT, "%-10s %-20s %6s %10s %10s %8s %8s%n", "shape", "op", "tokens", "device_us",
                "GB/s", "%copy", "%copy@w"));
        for (Shape s : SHAPES) {
            for (String[] row : b.shape(s)) {
                double us = Double.parseDouble(row[3]);
                double gbs = Double.parseDouble(row[4]) / us / 1e3;
                long weightBytes = Long.parseLong(row[5]);
                String atSize = weightBytes == 0 ? "-" : String.format(Locale.ROOT, "%.0f%%",
                        100 * gbs / b.copyBandwidthAt(weightBytes));
                String line = String.format(Locale.ROOT, "%-10s %-20s %6s %10.2f %10.0f %7.0f%% %8s%n", s.name(), row[1],
                        row[2], us, gbs, 100 * gbs / copyGBs, atSize);
                out.append(line);
                System.out.print(line);
            }
        }
        System.out.println(out);
        if (args.length > 0) {
            Files.writeString(Path.of(args[0]), out.toString());
        }
    }

    /** Rows {shape, op, tokens, device us, bytes} of every decode op of one layer, and the LM head. */
    private List<String[]> shape(Shape shape) {
        LlamaConfig c = shape.config();
        int h = c.hiddenSize(), dh = c.headDim(), q = c.heads() * dh, kv = c.kvHeads() * dh, f = c.intermediateSize();
        List<String[]> rows = new ArrayList<>();
        List<Matrix> owned = new ArrayList<>();
        Matrix wQkv = weight(owned, q + 2 * kv, h), wO = weight(owned, h, q), wGateUp = weight(owned, 2 * f, h);
        Matrix wDown = weight(owned, h, f), wHead = weight(owned, c.vocabSize(), h), norm = weight(owned, 1, h);
        int maxT = TOKENS[TOKENS.length - 1];
        Matrix x = act(owned, maxT, Math.max(Math.max(h, f), q)), y = act(owned, maxT, Math.max(q + 2 * kv, 2 * f));
        Matrix out = act(owned, maxT, Math.max(c.vocabSize(), 2 * f));
        Matrix keys = act(owned, CONTEXT, kv), values = act(owned, CONTEXT, kv);
        Matrix table = RotaryTable.create(ops, CONTEXT + maxT, dh, c.ropeTheta());
        owned.add(table);
        Matrix residual = act(owned, maxT, h), normed = act(owned, maxT, h), gScratch = act(owned, maxT, f);
        try {
            for (int t : TOKENS) {
                gemm(rows, shape, "qkv", t, x, h, wQkv, out);
                gemm(rows, shape, "o_proj", t, x, q, wO, out);
                gemm(rows, shape, "gate_up", t, x, h, wGateUp, out);
                gemm(rows, shape, "down", t, x, f, wDown, out);
                gemm(rows, shape, "lm_head", t, x, h, wHead, out);
                fused(rows, shape, t, x, y, out, gScratch, residual, normed, wQkv, wGateUp, wO, wDown, norm);
            }
            Matrix xs = view(x, 1, h), ys = view(y, 1, h);
            rows.add(row(shape, "rmsnorm", 1, time(() -> ops.rmsNorm(xs, norm, 1e-5f, ys)), 8L * h + 2L * h));
            rows.add(row(shape, "add", 1, time(() -> ops.add(xs, ys, xs)), 12L * h));
            Matrix g = view(y, 1, f), u = view(out, 1, f);
            rows.add(row(shape, "silu_mul", 1, time(() -> ops.siluMul(g, u, g)), 12L * f));
            Matrix qs = view(x, 1, q);
            rows.add(row(shape, "rotary_q", 1, time(() -> ops.rotary(qs, c.heads(), dh, CONTEXT - 1, table)), 8L * q));
            // fused rotary + KV write: reads q, k, v and the table row, writes q and one cache row of k and v
            Matrix ks = view(y, 1, kv), vs = view(out, 1, kv);
            rows.add(row(shape, "rotary_kv", 1, time(() -> ops.rotaryKvWrite(qs, ks, vs, c.heads(), c.kvHeads(), dh,
                    CONTEXT - 1, table, keys, values)), 8L * q + 16L * kv + 4L * dh));
            Matrix ctx = view(out, 1, q);
            long attnBytes = 2L * CONTEXT * kv * 4 + 8L * q;
            rows.add(row(shape, "attention", 1, time(() -> ops.attention(qs, keys, values, c.heads(), c.kvHeads(), dh,
                    CONTEXT - 1, ctx)), attnBytes));
            rows.add(row(shape, "attn_perhead", 1, time(() -> ops.attentionKernels().perHead(qs, keys, values, c.heads(),
                    c.kvHeads(), dh, CONTEXT - 1, ctx)), attnBytes));
            if (CudaAttention.splitKSupports(c.heads(), c.kvHeads(), dh)) {
                rows.add(row(shape, "attn_splitk", 1, time(() -> ops.attentionKernels().splitK(qs, keys, values, c.heads(),
                        c.kvHeads(), dh, CONTEXT - 1, ctx)), attnBytes));
            }
            if (CudaAttention.fusedSupports(1, c.heads(), c.kvHeads(), dh)) {
                // one launch for rotary_kv + attn_splitk (cohort_nn_rotary_attention, combine in the split kernel);
                // q is read unrotated and left so
                rows.add(row(shape, "attn_fused_rotary", 1, time(() -> ops.attentionKernels().rotaryFused(qs, ks, vs, c.heads(),
                        c.kvHeads(), dh, CONTEXT - 1, table, keys, values, ctx)), attnBytes + 16L * kv + 4L * dh));
            }
            // the decode bench's contexts (cohort model bench --prompt-len 32 --decode 64: positions 32..95), one
            // step at position SHORT - 1: rotary + KV write and attention as the model launches them, and the
            // single-launch alternatives
            int p = SHORT - 1;
            long shortBytes = 2L * SHORT * kv * 4 + 8L * q;
            rows.add(row(shape, "attention@" + SHORT, 1, time(() -> ops.attention(qs, keys, values, c.heads(),
                    c.kvHeads(), dh, p, ctx)), shortBytes));
            rows.add(row(shape, "rotary_kv+attn@" + SHORT, 1, time(() -> {
                ops.rotaryKvWrite(qs, ks, vs, c.heads(), c.kvHeads(), dh, p, table, keys, values);
                ops.attention(qs, keys, values, c.heads(), c.kvHeads(), dh, p, ctx);
            }), shortBytes + 16L * kv));
            if (CudaAttention.splitKSupports(c.heads(), c.kvHeads(), dh)) {
                rows.add(row(shape, "attn_splitk@" + SHORT, 1, time(() -> ops.attentionKernels().splitK(qs, keys, values,
                        c.heads(), c.kvHeads(), dh, p, ctx)), shortBytes));
            }
            if (CudaAttention.decodeSupports(c.heads(), c.kvHeads(), dh)) {
                rows.add(row(shape, "rotary_attn_decode@" + SHORT, 1, time(() -> ops.attentionKernels().rotaryDecode(qs, ks, vs,
                        c.heads(), c.kvHeads(), dh, p, table, keys, values, ctx)), shortBytes + 16L * kv));
            }
            rows.add(row(shape, "attn_online@" + SHORT, 1, time(() -> ops.attentionKernels().online(qs, keys, values, c.heads(),
                    c.kvHeads(), dh, p, ctx)), shortBytes));
            if (CudaAttention.fusedSupports(1, c.heads(), c.kvHeads(), dh)) {
                rows.add(row(shape, "attn_fused_rot@" + SHORT, 1, time(() -> ops.attentionKernels().rotaryFused(qs, ks, vs,
                        c.heads(), c.kvHeads(), dh, p, table, keys, values, ctx)), shortBytes + 16L * kv));
            }
            // prefill: PREFILL query rows after a cached prefix, ending at the context's last position
            Matrix pq = act(owned, PREFILL, q), pout = act(owned, PREFILL, q);
            long prefillBytes = 2L * CONTEXT * kv * 4 + 8L * PREFILL * q;
            rows.add(row(shape, "attn_prefill_perhead", PREFILL, time(() -> ops.attentionKernels().perHead(pq, keys, values,
                    c.heads(), c.kvHeads(), dh, CONTEXT - PREFILL, pout)), prefillBytes));
            if (CudaAttention.onlineSupports(c.heads(), c.kvHeads(), dh)) {
                rows.add(row(shape, "attn_prefill_online", PREFILL, time(() -> ops.attentionKernels().online(pq, keys, values,
                        c.heads(), c.kvHeads(), dh, CONTEXT - PREFILL, pout)), prefillBytes));
            }
            if (CudaAttention.prefillTcSupports(c.heads(), c.kvHeads(), dh) && ops.attentionKernels().prefillTcAvailable(dh)) {
                rows.add(row(shape, "attn_prefill_tc", PREFILL, time(() -> ops.attentionKernels().prefillTc(pq, keys, values,
                        c.heads(), c.kvHeads(), dh, CONTEXT - PREFILL, pout)), prefillBytes));
            }
            // the prefill target's case: a whole CONTEXT-token prompt from position 0, both kernels
            Matrix wq = act(owned, CONTEXT, q), wout = act(owned, CONTEXT, q);
            long wholeBytes = 2L * CONTEXT * kv * 4 + 8L * CONTEXT * q;
            if (CudaAttention.onlineSupports(c.heads(), c.kvHeads(), dh)) {
                rows.add(row(shape, "attn_prefill0_online", CONTEXT, time(() -> ops.attentionKernels().online(wq, keys, values,
                        c.heads(), c.kvHeads(), dh, 0, wout)), wholeBytes));
            }
            if (CudaAttention.prefillTcSupports(c.heads(), c.kvHeads(), dh) && ops.attentionKernels().prefillTcAvailable(dh)) {
                rows.add(row(shape, "attn_prefill0_tc", CONTEXT, time(() -> ops.attentionKernels().prefillTc(wq, keys, values,
                        c.heads(), c.kvHeads(), dh, 0, wout)), wholeBytes));
            }
        } finally {
            owned.forEach(ops::free);
        }
        return rows;
    }

    private void gemm(List<String[]> rows, Shape s, String op, int t, Matrix x, int k, Matrix w, Matrix out) {
        Matrix a = view(x, t, k), o = view(out, t, w.rows());
        long bytes = w.byteSize() + a.byteSize() + o.byteSize();
        // consecutive calls read different copies of the weight, more than L2 holds in all, as a decode step's
        // layers do: a weight under L2's size read again at once would come partly from L2
        Matrix[] ws = rotation(w);
        try {
            rows.add(row(s, op, t, timer.micros(20, 100, i -> ops.matmulT(a, ws[i % ws.length], o)), bytes, w.byteSize()));
            // the same GEMM on the cast + cuBLAS path, for comparison in the same run (same useful bytes)
            ops.useGemv(false);
            try {
                rows.add(row(s, op + "_cublas", t, timer.micros(20, 100, i -> ops.matmulT(a, ws[i % ws.length], o)), bytes,
                        w.byteSize()));
            } finally {
                ops.useGemv(!"false".equals(System.getProperty("cohort.nn.gemv")));
            }
        } finally {
            for (int i = 1; i < ws.length; i++) {
                ops.free(ws[i]);
            }
        }
    }

    /** {@code w} and enough zeroed copies of it that they hold at least {@value #ROTATED_BYTES} bytes together. */
    private Matrix[] rotation(Matrix w) {
        int copies = (int) Math.max(1, Math.min(64, (ROTATED_BYTES + w.byteSize() - 1) / w.byteSize()));
        Matrix[] ws = new Matrix[copies];
        ws[0] = w;
        for (int i = 1; i < copies; i++) {
            ws[i] = ops.allocate(w.dtype(), w.rows(), w.cols());
            stream.zero(ws[i].buffer(), 0, ws[i].byteSize());
        }
        return ws;
    }

    /**
     * The fused projections (gemv.cu's fused forms, where the GEMV takes the product; the unfused ops elsewhere,
     * e.g. 16 tokens) beside the unfused sequences they replace, in the same run: o_proj + addRmsNorm
     * ({@code o_proj_addnorm} vs {@code o_proj+addnorm}), siluMulPacked + down ({@code down_silu} vs
     * {@code silu+down}), and all three ({@code down_silu_addnorm} vs {@code silu+down+addnorm}). Bytes: the
     * weights, the activation read (gate|up for the SwiGLU forms), the residual read and written, normed written.
     */
    private void fused(List<String[]> rows, Shape s, int t, Matrix x, Matrix y, Matrix out, Matrix g, Matrix residual,
                       Matrix normed, Matrix wQkv, Matrix wGateUp, Matrix wO, Matrix wDown, Matrix norm) {
        int h = wO.rows(), q = wO.cols(), f = wDown.cols();
        float eps = 1e-5f;
        Matrix a = view(x, t, q), o = view(out, t, h), r = view(residual, t, h), nr = view(normed, t, h);
        Matrix gu = view(y, t, 2 * f), gs = view(g, t, f);
        long norm3 = 3L * t * h * 4 + norm.byteSize();   // residual read + written, normed written, the norm weight
        long oBytes = wO.byteSize() + a.byteSize() + norm3;
        rows.add(row(s, "o_proj_addnorm", t, time(() -> ops.matmulTAddRmsNorm(a, wO, o, r, norm, eps, nr)), oBytes));
        rows.add(row(s, "o_proj+addnorm", t, time(() -> {
            ops.matmulT(a, wO, o);
            ops.addRmsNorm(r, o, norm, eps, nr);
        }), oBytes));
        long dBytes = wDown.byteSize() + gu.byteSize() + o.byteSize();
        rows.add(row(s, "down_silu", t, time(() -> ops.siluMatmulT(gu, gs, wDown, o)), dBytes));
        rows.add(row(s, "silu+down", t, time(() -> {
            ops.siluMulPacked(gu, gs);
            ops.matmulT(gs, wDown, o);
        }), dBytes));
        long dnBytes = wDown.byteSize() + gu.byteSize() + norm3;
        rows.add(row(s, "down_silu_addnorm", t, time(() -> ops.siluMatmulTAddRmsNorm(gu, gs, wDown, o, r, norm, eps, nr)),
                dnBytes));
        rows.add(row(s, "silu+down+addnorm", t, time(() -> {
            ops.siluMulPacked(gu, gs);
            ops.matmulT(gs, wDown, o);
            ops.addRmsNorm(r, o, norm, eps, nr);
        }), dnBytes));
        // the residual stream's forms (the model's decode at tp = 1, cohort.nn.normInGemv): the norm in the
        // projection's prologue, the add in its epilogue, each beside the separate kernels it replaces
        Matrix xr = view(residual, t, h), qkv = view(out, t, wQkv.rows());
        long qBytes = wQkv.byteSize() + xr.byteSize() + qkv.byteSize() + norm.byteSize();
        rows.add(row(s, "norm_qkv", t, time(() -> ops.rmsNormMatmulT(xr, norm, eps, nr, wQkv, qkv)), qBytes));
        rows.add(row(s, "rmsnorm+qkv", t, time(() -> {
            ops.rmsNorm(xr, norm, eps, nr);
            ops.matmulT(nr, wQkv, qkv);
        }), qBytes));
        Matrix gup = view(out, t, wGateUp.rows());
        long guBytes = wGateUp.byteSize() + xr.byteSize() + gs.byteSize() + norm.byteSize();
        rows.add(row(s, "norm_gate_up_swiglu", t, time(() -> ops.rmsNormMatmulTSwiGlu(xr, norm, eps, nr, wGateUp, gup, gs)),
                guBytes));
        rows.add(row(s, "norm_gate_up+silu", t, time(() -> {
            ops.rmsNormMatmulT(xr, norm, eps, nr, wGateUp, gup);
            ops.siluMulPacked(gup, gs);
        }), guBytes));
        long aBytes = wO.byteSize() + a.byteSize() + 2L * r.byteSize();
        rows.add(row(s, "o_proj_add", t, time(() -> ops.matmulTAdd(a, wO, o, r)), aBytes));
        rows.add(row(s, "o_proj+add", t, time(() -> {
            ops.matmulT(a, wO, o);
            ops.add(r, o, r);
        }), aBytes));
        long daBytes = wDown.byteSize() + gu.byteSize() + 2L * r.byteSize();
        rows.add(row(s, "down_silu_add", t, time(() -> ops.siluMatmulTAdd(gu, gs, wDown, o, r)), daBytes));
        rows.add(row(s, "silu+down+add", t, time(() -> {
            ops.siluMulPacked(gu, gs);
            ops.matmulT(gs, wDown, o);
            ops.add(r, o, r);
        }), daBytes));
    }

    private static String[] row(Shape s, String op, int tokens, double us, long bytes) {
        return row(s, op, tokens, us, bytes, 0);
    }

    /** A row with the weight bytes its %copy@w compares against (0: none). */
    private static String[] row(Shape s, String op, int tokens, double us, long bytes, long weightBytes) {
        return new String[] {s.name(), op, Integer.toString(tokens), Double.toString(us), Long.toString(bytes),
                Long.toString(weightBytes)};
    }

    /** Copy bandwidth (read + write) of a D2D copy of {@code bytes}, measured once per size. */
    private double copyBandwidthAt(long bytes) {
        return copyAtSize.computeIfAbsent(bytes, b -> timer.copyBandwidth(b, ROTATED_BYTES));
    }

    private Matrix weight(List<Matrix> owned, int rows, int cols) {
        Matrix m = ops.allocate(DType.BF16, rows, cols);
        stream.zero(m.buffer(), 0, m.byteSize());
        owned.add(m);
        return m;
    }

    private Matrix act(List<Matrix> owned, int rows, int cols) {
        Matrix m = ops.allocate(DType.F32, rows, cols);
        stream.zero(m.buffer(), 0, m.byteSize());
        owned.add(m);
        return m;
    }

    private static Matrix view(Matrix m, int rows, int cols) {
        return new Matrix(m.buffer(), m.dtype(), rows, cols);
    }

    /** Device microseconds per call of {@code op}, enqueued on the ops' stream behind the gate. */
    private double time(Runnable op) {
        return timer.micros(20, 100, i -> op.run());
    }
}
