package io.cohort.nn.cuda;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.cuda.NativeCudaStream;
import io.cohort.nn.Matrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;

/**
 * {@code out = a · wᵀ} through cuBLASLt ({@code cublasLtMatmul}, f32 accumulation) on one of the algorithms
 * cuBLASLt's heuristic lists for the shape, picked by index: what {@link CublasGemm} cannot be told. cuBLAS's
 * own choice streams the 8B decode weights at 55-86% of the copy bandwidth at 1-16 rows (GemvSweepBench); the
 * heuristic's other entries (split-K among them) are the candidates to measure against it.
 *
 * <p>The layout is {@link CublasGemm}'s: the column-major {@code Cᵀ [n, m] = Wᵀ'·A'} with A = W' ({@code [k, n]},
 * ld k, transposed) and B = A' ({@code [k, m]}, ld k). A shape's descriptors and its list (at most
 * {@value #MAX_ALGORITHMS}) are made at its first call and kept; later calls allocate nothing. The workspace is the
 * caller's device memory, so a call can be captured into a CUDA graph. One per stream; not thread-safe.
 */
public final class CublasLtGemm implements AutoCloseable {
    /** How many algorithms the heuristic is asked for, per shape. */
    public static final int MAX_ALGORITHMS = 16;

    private final CublasLtLibrary lib;
    private final NativeCudaStream stream;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final MemorySegment preference;
    private final MemorySegment one;
    private final MemorySegment zero;
    private final MemorySegment out4;
    private final MemorySegment outAddress;
    private final MemorySegment workspace;
    private final long workspaceBytes;
    private Plan[] plans = new Plan[0];
    private boolean closed;

    /** One shape's descriptors and its heuristic list. */
    private static final class Plan {
        final int m, n, k, ab, c;
        MemorySegment desc = MemorySegment.NULL, aLayout = MemorySegment.NULL, bLayout = MemorySegment.NULL,
                cLayout = MemorySegment.NULL;
        MemorySegment results;
        int count;

        Plan(int m, int n, int k, int ab, int c) {
            this.m = m;
            this.n = n;
            this.k = k;
            this.ab = ab;
            this.c = c;
        }
    }

    /** A handle on {@code stream} whose algorithms may use {@code workspaceBytes} of device memory at {@code workspace}. */
    public CublasLtGemm(NativeCudaStream stream, long workspace, long workspaceBytes) {
        this(CublasLtLibrary.load(), stream, workspace, workspaceBytes);
    }

    CublasLtGemm(CublasLtLibrary lib, NativeCudaStream stream, long workspace, long workspaceBytes) {
        this.lib = lib;
        this.stream = stream;
        this.workspace = MemorySegment.ofAddress(workspace);
        this.workspaceBytes = workspaceBytes;
        this.outAddress = arena.allocate(ValueLayout.ADDRESS);
        this.out4 = arena.allocate(ValueLayout.JAVA_INT);
        stream.makeContextCurrent();
        check(CublasLibrary.invoke(() -> (int) lib.create.invokeExact(outAddress)), "cublasLtCreate");
        this.handle = outAddress.get(ValueLayout.ADDRESS, 0);
        check(CublasLibrary.invoke(() -> (int) lib.preferenceCreate.invokeExact(outAddress)), "cublasLtMatmulPreferenceCreate");
        this.preference = outAddress.get(ValueLayout.ADDRESS, 0);
        MemorySegment bytes = arena.allocateFrom(ValueLayout.JAVA_LONG, workspaceBytes);
        check(CublasLibrary.invoke(() -> (int) lib.preferenceSetAttribute.invokeExact(preference,
                CublasLtLibrary.PREF_MAX_WORKSPACE_BYTES, bytes, 8L)), "cublasLtMatmulPreferenceSetAttribute");
        this.one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
        this.zero = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
    }

    /** How many algorithms cuBLASLt lists for this product (0 where it has none). */
    public int algorithms(Matrix a, Matrix w, Matrix out) {
        check(a, w, out);
        return a.rows() == 0 || w.rows() == 0 ? 0 : plan(a, w, out).count;
    }

    /**
     * How many algorithms cuBLASLt lists for {@code rows} activations of w's type times w into out (what
     * {@link #algorithms(Matrix, Matrix, Matrix)} says for such an a; asks nothing of a, allocates nothing once
     * the shape has been seen).
     */
    public int algorithms(int rows, Matrix w, Matrix out) {
        if (rows != out.rows() || w.rows() != out.cols()) {
            throw new IllegalArgumentException("matmulT shapes: " + rows + " rows, w " + w.rows() + "x" + w.cols()
                    + ", out " + out.rows() + "x" + out.cols());
        }
        return rows == 0 || w.rows() == 0 ? 0 : plan(rows, w, out).count;
    }

    /** Algorithm {@code algorithm}'s workspace and waves (cuBLASLt's estimate of its grid over the SMs), in words. */
    public String describe(Matrix a, Matrix w, Matrix out, int algorithm) {
        MemorySegment r = result(plan(a, w, out), algorithm, a, w);
        return String.format(Locale.ROOT, "workspace %d B, waves %.2f",
                r.get(ValueLayout.JAVA_LONG, CublasLtLibrary.RESULT_WORKSPACE),
                r.get(ValueLayout.JAVA_FLOAT, CublasLtLibrary.RESULT_WAVES));
    }

    /** Enqueues {@code out = a · wᵀ} on the product's algorithm {@code algorithm} (0: the heuristic's first). */
    public void matmulT(Matrix a, Matrix w, Matrix out, int algorithm) {
        check(a, w, out);
        if (a.rows() == 0 || w.rows() == 0) {
            return;
        }
        Plan p = plan(a, w, out);
        MemorySegment algo = result(p, algorithm, a, w);
        MemorySegment pa = MemorySegment.ofAddress(a.buffer().address());
        MemorySegment pw = MemorySegment.ofAddress(w.buffer().address());
        MemorySegment pc = MemorySegment.ofAddress(out.buffer().address());
        MemorySegment s = MemorySegment.ofAddress(stream.nativeHandle());
        stream.makeContextCurrent();
        int status = CublasLibrary.invoke(() -> (int) lib.matmul.invokeExact(handle, p.desc, one, pw, p.aLayout, pa, p.bLayout,
                zero, pc, p.cLayout, pc, p.cLayout, algo, workspace, workspaceBytes, s));
        if (status != 0) {
            throw new CohortException("cublasLtMatmul (" + shape(a, w) + ", algorithm " + algorithm + ") on cuda:"
                    + stream.deviceOrdinal() + " failed: " + CublasLibrary.status(status));
        }
    }

    private MemorySegment result(Plan p, int algorithm, Matrix a, Matrix w) {
        if (algorithm < 0 || algorithm >= p.count) {
            throw new IllegalArgumentException("cuBLASLt lists " + p.count + " algorithms for " + shape(a, w)
                    + ", not algorithm " + algorithm);
        }
        return p.results.asSlice(algorithm * CublasLtLibrary.RESULT_BYTES, CublasLtLibrary.RESULT_BYTES);
    }

    private static void check(Matrix a, Matrix w, Matrix out) {
        int m = a.rows(), k = a.cols(), n = w.rows();
        if (w.cols() != k || out.rows() != m || out.cols() != n) {
            throw new IllegalArgumentException("matmulT shapes: a " + m + "x" + k + ", w " + n + "x" + w.cols()
                    + ", out " + out.rows() + "x" + out.cols() + " (need w " + n + "x" + k + ", out " + m + "x" + n + ")");
        }
        if (a.dtype() != w.dtype()) {
            throw new IllegalArgumentException("cuBLASLt GEMM needs a and w of one dtype, got " + a.dtype() + " and "
                    + w.dtype());
        }
        if (out.dtype() != a.dtype() && out.dtype() != DType.F32) {
            throw new IllegalArgumentException("cuBLASLt GEMM writes " + a.dtype() + " or F32, not " + out.dtype());
        }
        if (k == 0 && m > 0 && n > 0) {
            throw new IllegalArgumentException("matmulT with k = 0");
        }
    }

    private Plan plan(Matrix a, Matrix w, Matrix out) {
        return plan(a.rows(), w, out);
    }

    /** The plan of {@code rows} activations of w's type times w into out. */
    private Plan plan(int rows, Matrix w, Matrix out) {
        if (closed) {
            throw new IllegalStateException("cuBLASLt handle closed");
        }
        int m = rows, n = w.rows(), k = w.cols();
        int ab = CublasGemm.dataType(w.dtype()), c = CublasGemm.dataType(out.dtype());
        for (Plan p : plans) {
            if (p.m == m && p.n == n && p.k == k && p.ab == ab && p.c == c) {
                return p;
            }
        }
        Plan p = new Plan(m, n, k, ab, c);
        stream.makeContextCurrent();
        try {
            check(CublasLibrary.invoke(() -> (int) lib.descCreate.invokeExact(outAddress, CublasLibrary.COMPUTE_32F,
                    CublasLibrary.CUDA_R_32F)), "cublasLtMatmulDescCreate");
            p.desc = outAddress.get(ValueLayout.ADDRESS, 0);
            setOperation(p.desc, CublasLtLibrary.DESC_TRANSA, CublasLibrary.OP_T);
            setOperation(p.desc, CublasLtLibrary.DESC_TRANSB, CublasLibrary.OP_N);
            p.aLayout = layout(ab, k, n, k);
            p.bLayout = layout(ab, k, m, k);
            p.cLayout = layout(c, n, m, n);
            p.results = arena.allocate(CublasLtLibrary.RESULT_BYTES * MAX_ALGORITHMS, 8);
            MemorySegment desc = p.desc, al = p.aLayout, bl = p.bLayout, cl = p.cLayout, results = p.results;
            int status = CublasLibrary.invoke(() -> (int) lib.heuristic.invokeExact(handle, desc, al, bl, cl, cl, preference,
                    MAX_ALGORITHMS, results, out4));
            // NOT_SUPPORTED: no algorithm for this shape and these types, an answer rather than a failure
            if (status != 0 && status != 15) {
                check(status, "cublasLtMatmulAlgoGetHeuristic (" + m + "x" + n + "x" + k + " " + w.dtype() + ")");
            }
            int listed = status == 0 ? out4.get(ValueLayout.JAVA_INT, 0) : 0;
            p.count = usable(results, Math.min(listed, MAX_ALGORITHMS));
        } catch (RuntimeException e) {
            destroy(p);
            throw e;
        }
        plans = Arrays.copyOf(plans, plans.length + 1);
        plans[plans.length - 1] = p;
        return p;
    }

    /** Keeps the entries whose state is success, in the heuristic's order, at the front; returns how many. */
    static int usable(MemorySegment results, int listed) {
        int kept = 0;
        for (int i = 0; i < listed; i++) {
            MemorySegment r = results.asSlice(i * CublasLtLibrary.RESULT_BYTES, CublasLtLibrary.RESULT_BYTES);
            if (r.get(ValueLayout.JAVA_INT, CublasLtLibrary.RESULT_STATE) == 0) {
                if (kept != i) {
                    MemorySegment.copy(r, 0, results, kept * CublasLtLibrary.RESULT_BYTES, CublasLtLibrary.RESULT_BYTES);
                }
                kept++;
            }
        }
        return kept;
    }

    private void setOperation(MemorySegment desc, int attribute, int op) {
        out4.set(ValueLayout.JAVA_INT, 0, op);
        check(CublasLibrary.invoke(() -> (int) lib.descSetAttribute.invokeExact(desc, attribute, out4, 4L)),
                "cublasLtMatmulDescSetAttribute");
    }

    private MemorySegment layout(int type, long rows, long cols, long ld) {
        check(CublasLibrary.invoke(() -> (int) lib.layoutCreate.invokeExact(outAddress, type, rows, cols, ld)),
                "cublasLtMatrixLayoutCreate");
        return outAddress.get(ValueLayout.ADDRESS, 0);
    }

    private void destroy(Plan p) {
        for (MemorySegment l : new MemorySegment[] {p.aLayout, p.bLayout, p.cLayout}) {
            if (!l.equals(MemorySegment.NULL)) {
                CublasLibrary.invoke(() -> (int) lib.layoutDestroy.invokeExact(l));
            }
        }
        if (!p.desc.equals(MemorySegment.NULL)) {
            MemorySegment d = p.desc;
            CublasLibrary.invoke(() -> (int) lib.descDestroy.invokeExact(d));
        }
    }

    private static String shape(Matrix a, Matrix w) {
        return a.rows() + "x" + w.rows() + "x" + a.cols() + " " + a.dtype();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        stream.makeContextCurrent();
        for (Plan p : plans) {
            destroy(p);
        }
        CublasLibrary.invoke(() -> (int) lib.preferenceDestroy.invokeExact(preference));
        int status = CublasLibrary.invoke(() -> (int) lib.destroy.invokeExact(handle));
        arena.close();
        check(status, "cublasLtDestroy");
    }

    private void check(int status, String call) {
        CublasLibrary.check(status, call, stream.deviceOrdinal());
    }
}
