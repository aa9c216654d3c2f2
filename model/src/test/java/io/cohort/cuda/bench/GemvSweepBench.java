package io.cohort.cuda.bench;

import io.cohort.core.DType;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.CudaStream;
import io.cohort.nn.Matrix;
import io.cohort.nn.cuda.CudaTensorOps;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Sweep of the decode GEMM kernels at the Llama-3-8B and TinyLlama projections (bf16 weights, f32 activations)
 * for 1, 2, 4, 8 and 16 activation rows: every variant of the tensor-core skinny GEMM ({@code tc_v<i>},
 * CudaTensorOps#matmulTTc), the CUDA-core GEMV tile ({@code gemv}, cohort.nn.gemv=always), its shape variants at 1
 * and 2 rows ({@code gemv_v<i>}, CudaTensorOps#matmulTGemvVariant), cast + cuBLAS
 * ({@code cublas}, the GEMV off) and cast + cuBLASLt on the first algorithms its heuristic lists for the shape
 * ({@code lt_a<i>}, CudaTensorOps#matmulTCublasLt). Device time, GB/s and % of the copy bandwidth measured in the same run (D2D
 * cuMemcpy of 1 GiB, read + write counted), as DecodeOpsBench: the stream waits behind a host-released flag while
 * a batch is enqueued, CUDA events time the device alone, median of 5 batches.
 *
 * <p>Each batch rotates over enough distinct copies of the weight that it reads at least {@value #ROTATE_MB} MB
 * of them between repeats (the H200's L2 is 50 MB: one small matrix re-read would come from L2). Every row also
 * reports {@code err} = max |out - cuBLAS| / max |cuBLAS| over the m x n outputs of the same inputs (cuBLAS rounds
 * the activations to bf16 as the tensor-core kernel does, so tc rows should show ~1e-6; the GEMV keeps them f32,
 * ~1e-3): a wrong kernel shows there.
 * usage: GemvSweepBench [out-file [choices-file]]   (needs a GPU; the choices file: the fastest kernel per product
 * within 1e-2 of cuBLAS, for -Dcohort.nn.gemm-choices)
 */
public final class GemvSweepBench {
    private static final long ROTATE_MB = 160;
    private static final int MIN_CALLS = 40;   // calls per batch (at least; a multiple of the copies)
    private static final int[] TOKENS = {1, 2, 4, 8, 16};
    /** cuBLASLt algorithms timed per product: the heuristic's first ones. */
    private static final int LT_ROWS = 8;
    /** Kernels within this of cuBLAS (err column) may be chosen: the GEMV keeps f32 activations, ~1e-3. */
    private static final double CHOICE_MAX_ERR = 1e-2;

    /** The fastest kernel of the product being timed, and the choices file's entries so far. */
    private String bestKernel;
    private double bestUs;
    private final StringBuilder choices = new StringBuilder();

    record Shape(String model, String op, int n, int k) {
    }

    static final List<Shape> SHAPES = List.of(
            new Shape("llama3-8b", "qkv", 6144, 4096),
            new Shape("llama3-8b", "o_proj", 4096, 4096),
            new Shape("llama3-8b", "gate_up", 28672, 4096),
            new Shape("llama3-8b", "down", 4096, 14336),
            new Shape("llama3-8b", "lm_head", 128256, 4096),   // 1 GB: the largest single weight of a decode step
            new Shape("tinyllama", "qkv", 2560, 2048),
            new Shape("tinyllama", "o_proj", 2048, 2048),
            new Shape("tinyllama", "gate_up", 11264, 2048),
            new Shape("tinyllama", "down", 2048, 5632),
            new Shape("tinyllama", "lm_head", 32000, 2048));

    private final CudaDevice d;
    private final CudaTensorOps ops;
    private final CudaStream stream;
    private final GatedTimer timer;
    private long seed = 0x9E3779B97F4A7C15L;

    private GemvSweepBench(CudaDevice d) {
        this.d = d;
        // the GEMV rows take the CUDA-core kernel for every m it supports, not only where it measured faster
        System.setProperty("cohort.nn.gemv", "always");
        this.ops = new CudaTensorOps(d);
        ops.useTcGemv(false);   // matmulT = the GEMV (or cuBLAS with the GEMV off); tc rows launch variants directly
        this.stream = ops.stream();
        this.timer = new GatedTimer(d, stream);
    }

    public static void main(String[] args) throws IOException {
        long t0 = System.nanoTime();
        CudaDevice d = CudaDevices.open(0);
        GemvSweepBench b = new GemvSweepBench(d);
        double copyGBs = b.timer.copyBandwidth(1L << 30);
        StringBuilder out = new StringBuilder();
        out.append("# decode GEMM sweep, bf16 weights, f32 activations; ").append(d.name()).append("; ")
                .append(Instant.now()).append('\n')
                .append(String.format(Locale.ROOT, "# copy bandwidth (D2D cuMemcpy of 1 GiB, read + write): %.0f GB/s%n", copyGBs))
                .append("# device_us: flag-gated batch, CUDA events, median of ").append(GatedTimer.RUNS).append(" batches, weights rotated over >= ")
                .append(ROTATE_MB).append(" MB; GB/s: (weights + activations + output) / time; err: max|out - cublas| / max|cublas|\n");
        for (int v = 0; v < CudaTensorOps.gemvVariants(); v++) {
            out.append("# gemv_v").append(v).append(": ").append(CudaTensorOps.gemvVariant(v)).append('\n');
        }
        for (int v = 0; v < CudaTensorOps.tcGemvVariants(); v++) {
            out.append("# tc_v").append(v).append(": ").append(CudaTensorOps.tcGemvVariant(v)).append('\n');
        }
        String header = String.format(Locale.ROOT, "%-10s %-8s %6s %6s %3s %-8s %10s %8s %7s %10s%n", "model", "op", "n", "k",
                "m", "kernel", "device_us", "GB/s", "%copy", "err");
        out.append(header);
        System.out.print(out);
        for (Shape s : SHAPES) {
            b.shape(s, copyGBs, out);
        }
        out.append(String.format(Locale.ROOT, "# wall %.1f s%n", (System.nanoTime() - t0) / 1e9));
        System.out.println();
        System.out.print(out);
        if (args.length > 0) {
            Files.writeString(Path.of(args[0]), out.toString());
        }
        if (args.length > 1) {   // for -Dcohort.nn.gemm-choices (GemmChoices)
            Files.writeString(Path.of(args[1]), "# the fastest kernel per product, GemvSweepBench on " + d.name() + ", "
                    + Instant.now() + "\nchoices = [\n" + b.choices + "]\n");
        }
    }

    private void shape(Shape s, double copyGBs, StringBuilder out) {
        long wBytes = 2L * s.n() * s.k();
        int copies = (int) Math.max(1, (ROTATE_MB * 1_000_000 + wBytes - 1) / wBytes);
        int maxM = TOKENS[TOKENS.length - 1];
        List<Matrix> owned = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            Matrix[] w = new Matrix[copies];
            MemorySegment host = arena.allocate(wBytes, 16);
            for (long i = 0; i < (long) s.n() * s.k(); i++) {
                host.setAtIndex(ValueLayout.JAVA_SHORT, i, DType.floatToBf16(uniform()));
            }
            for (int c = 0; c < copies; c++) {
                w[c] = own(owned, ops.allocate(DType.BF16, s.n(), s.k()));
                if (c == 0) {
                    ops.upload(host, w[0].buffer(), 0);
                } else {
                    stream.copy(w[0].buffer(), 0, w[c].buffer(), 0, wBytes);
                }
            }
            MemorySegment xh = arena.allocate(4L * maxM * s.k(), 16);
            for (long i = 0; i < (long) maxM * s.k(); i++) {
                xh.setAtIndex(ValueLayout.JAVA_FLOAT, i, uniform());
            }
            Matrix x = own(owned, ops.allocate(DType.F32, maxM, s.k()));
            ops.upload(xh, x.buffer(), 0);
            Matrix o = own(owned, ops.allocate(DType.F32, maxM, s.n())), r = own(owned, ops.allocate(DType.F32, maxM, s.n()));
            MemorySegment got = arena.allocate(4L * maxM * s.n(), 16), ref = arena.allocate(4L * maxM * s.n(), 16);
            ops.synchronize();
            for (int m : TOKENS) {
                bestKernel = null;
                bestUs = Double.MAX_VALUE;
                Matrix a = new Matrix(x.buffer(), DType.F32, m, s.k());
                Matrix om = new Matrix(o.buffer(), DType.F32, m, s.n()), rm = new Matrix(r.buffer(), DType.F32, m, s.n());
                long bytes = wBytes + a.byteSize() + om.byteSize();
                // cast + cuBLAS: the reference output, then its time
                ops.useGemv(false);
                try {
                    ops.matmulT(a, w[0], rm);
                    ops.download(rm.buffer(), 0, ref.asSlice(0, rm.byteSize()));
                    row(out, s, m, "cublas", time(w, wm -> ops.matmulT(a, wm, rm)), bytes, copyGBs, 0);
                } finally {
                    ops.useGemv(true);
                }
                cublasLt(s, m, a, w, om, got, ref, bytes, copyGBs, out);
                ops.matmulT(a, w[0], om);
                double err = error(om, got, ref);
                row(out, s, m, "gemv", time(w, wm -> ops.matmulT(a, wm, om)), bytes, copyGBs, err);
                for (int v = 0; v < CudaTensorOps.gemvVariants(); v++) {
                    int variant = v;
                    if (!ops.gemvVariantSupports(v, a, w[0], om)) {
                        continue;
                    }
                    ops.matmulTGemvVariant(a, w[0], om, variant);
                    err = error(om, got, ref);
                    row(out, s, m, "gemv_v" + v, time(w, wm -> ops.matmulTGemvVariant(a, wm, om, variant)), bytes, copyGBs, err);
                }
                for (int v = 0; v < CudaTensorOps.tcGemvVariants(); v++) {
                    int variant = v;
                    if (!CudaTensorOps.tcGemvSupports(a, w[0], om)) {
                        continue;
                    }
                    ops.matmulTTc(a, w[0], om, variant);
                    err = error(om, got, ref);
                    row(out, s, m, "tc_v" + v, time(w, wm -> ops.matmulTTc(a, wm, om, variant)), bytes, copyGBs, err);
                }
                if (bestKernel != null) {
                    choices.append(String.format(Locale.ROOT, "  { n = %d, k = %d, rows = %d, kernel = %s }   # %s %s, %.2f us%n",
                            s.n(), s.k(), m, bestKernel, s.model(), s.op(), bestUs));
                }
            }
        } finally {
            owned.forEach(ops::free);
        }
    }

    /**
     * The first {@value #LT_ROWS} algorithms cuBLASLt's heuristic lists for the product (after the same cast as the
     * cublas row), then a comment naming the fastest with its workspace and waves; a failure is a comment, and the
     * sweep goes on.
     */
    private void cublasLt(Shape s, int m, Matrix a, Matrix[] w, Matrix om, MemorySegment got, MemorySegment ref,
                          long bytes, double copyGBs, StringBuilder out) {
        try {
            int algorithms = Math.min(LT_ROWS, ops.cublasLtAlgorithms(a, w[0], om));
            int best = -1;
            double bestUs = Double.MAX_VALUE;
            for (int i = 0; i < algorithms; i++) {
                int algorithm = i;
                ops.matmulTCublasLt(a, w[0], om, algorithm);
                double err = error(om, got, ref);
                double us = time(w, wm -> ops.matmulTCublasLt(a, wm, om, algorithm));
                row(out, s, m, "lt_a" + i, us, bytes, copyGBs, err);
                if (us < bestUs) {
                    bestUs = us;
                    best = i;
                }
            }
            String line = best < 0 ? "# cublaslt lists no algorithm for " + s.model() + " " + s.op() + " m=" + m + "\n"
                    : "# fastest cublaslt for " + s.model() + " " + s.op() + " m=" + m + ": lt_a" + best + " ("
                    + ops.cublasLtAlgorithm(a, w[0], om, best) + ")\n";
            out.append(line);
            System.out.print(line);
        } catch (RuntimeException e) {
            String line = "# cublaslt failed for " + s.model() + " " + s.op() + " m=" + m + ": " + e.getMessage() + "\n";
            out.append(line);
            System.out.print(line);
        }
    }

    private static Matrix own(List<Matrix> owned, Matrix m) {
        owned.add(m);
        return m;
    }

    /** max |got - ref| / max |ref| over out's elements (ref already downloaded). */
    private double error(Matrix out, MemorySegment got, MemorySegment ref) {
        ops.download(out.buffer(), 0, got.asSlice(0, out.byteSize()));
        double max = 0, diff = 0;
        for (long i = 0; i < out.elements(); i++) {
            float g = got.getAtIndex(ValueLayout.JAVA_FLOAT, i), e = ref.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            max = Math.max(max, Math.abs(e));
            diff = Float.isFinite(g) ? Math.max(diff, Math.abs(g - e)) : Double.POSITIVE_INFINITY;
        }
        return max == 0 ? diff : diff / max;
    }

    private void row(StringBuilder out, Shape s, int m, String kernel, double us, long bytes, double copyGBs,
                     double err) {
        if (err <= CHOICE_MAX_ERR && us < bestUs) {   // a kernel off the reference never becomes the choice
            bestUs = us;
            bestKernel = kernel;
        }
        double gbs = bytes / us / 1e3;
        String line = String.format(Locale.ROOT, "%-10s %-8s %6d %6d %3d %-8s %10.2f %8.0f %6.0f%% %10.2e%n", s.model(),
                s.op(), s.n(), s.k(), m, kernel, us, gbs, 100 * gbs / copyGBs, err);
        out.append(line);
        System.out.print(line);
    }

    /** Uniform in [-1, 1): xorshift, fast enough to fill a few hundred MB. */
    private float uniform() {
        seed ^= seed << 13;
        seed ^= seed >>> 7;
        seed ^= seed << 17;
        return (seed >>> 40) * 0x1p-23f - 1f;
    }

    /** Device microseconds per call of {@code op}, rotated over the weight copies, enqueued behind the gate. */
    private double time(Matrix[] w, Consumer<Matrix> op) {
        int calls = w.length * Math.max(1, (MIN_CALLS + w.length - 1) / w.length);
        return timer.micros(Math.max(5, w.length), calls, i -> op.accept(w[i % w.length]));
    }
}
