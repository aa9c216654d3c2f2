package io.cohort.nn.cuda;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.cuda.NativeCudaStream;
import io.cohort.nn.Matrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code out = a · wᵀ} on a GPU with cuBLAS ({@code cublasGemmEx}, f32 accumulation), enqueued on one CUDA
 * stream; the same contract as {@link io.cohort.nn.TensorOps#matmulT}. One handle per stream, bound at
 * creation; not thread-safe (one rank's thread uses it).
 *
 * <p>Layout: Cohort's matrices are row-major, cuBLAS is column-major. A row-major {@code [r, c]} matrix is the
 * column-major {@code [c, r]} transpose, so {@code C = A·Wᵀ} (row-major) is computed as the column-major
 * {@code Cᵀ = op(W')·A'} with {@code op = T} on W' ({@code [k, n]}, ld k), {@code N} on A' ({@code [k, m]},
 * ld k), into C' ({@code [n, m]}, ld n): no copies, no transposes in memory.
 *
 * <p>Types: a and w must share one dtype (f32, f16 or bf16); out is that dtype or f32
 * ({@code CUBLAS_COMPUTE_32F}: products and sums in f32, one rounding at the end).
 */
public final class CublasGemm implements AutoCloseable {
    private final CublasLibrary lib;
    private final NativeCudaStream stream;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final MemorySegment one;
    private final MemorySegment zero;
    private boolean closed;

    public CublasGemm(NativeCudaStream stream) {
        this.lib = CublasLibrary.load();
        this.stream = stream;
        stream.makeContextCurrent();
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        check(CublasLibrary.invoke(() -> (int) lib.create.invokeExact(out)), "cublasCreate_v2");
        this.handle = out.get(ValueLayout.ADDRESS, 0);
        check(CublasLibrary.invoke(() -> (int) lib.setStream.invokeExact(handle, MemorySegment.ofAddress(stream.nativeHandle()))),
                "cublasSetStream_v2");
        // host pointer mode (cuBLAS's default): alpha and beta are read during the call
        this.one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
        this.zero = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
    }

    /**
     * Gives cuBLAS a workspace of its own (device memory the caller keeps): what CUDA graph capture needs, since
     * a capture must not allocate. False where the library has no cublasSetWorkspace_v2.
     */
    public boolean useWorkspace(long address, long bytes) {
        if (lib.setWorkspace == null) {
            return false;
        }
        stream.makeContextCurrent();
        check(CublasLibrary.invoke(() -> (int) lib.setWorkspace.invokeExact(handle, MemorySegment.ofAddress(address), bytes)),
                "cublasSetWorkspace_v2");
        return true;
    }

    /** cuBLAS's version number (e.g. 130000 for 13.0.0). */
    public int version() {
        MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
        check(CublasLibrary.invoke(() -> (int) lib.getVersion.invokeExact(handle, v)), "cublasGetVersion_v2");
        return v.get(ValueLayout.JAVA_INT, 0);
    }

    /** Enqueues {@code out = a · wᵀ}; a {@code [m, k]}, w {@code [n, k]}, out {@code [m, n]}, all device memory. */
    public void matmulT(Matrix a, Matrix w, Matrix out) {
        int m = a.rows(), k = a.cols(), n = w.rows();
        if (w.cols() != k || out.rows() != m || out.cols() != n) {
            throw new IllegalArgumentException("matmulT shapes: a " + m + "x" + k + ", w " + n + "x" + w.cols()
                    + ", out " + out.rows() + "x" + out.cols() + " (need w " + n + "x" + k + ", out " + m + "x" + n + ")");
        }
        if (a.dtype() != w.dtype()) {
            throw new IllegalArgumentException("cuBLAS GEMM needs a and w of one dtype, got " + a.dtype() + " and " + w.dtype());
        }
        if (out.dtype() != a.dtype() && out.dtype() != DType.F32) {
            throw new IllegalArgumentException("cuBLAS GEMM writes " + a.dtype() + " or F32, not " + out.dtype());
        }
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            throw new IllegalArgumentException("matmulT with k = 0");
        }
        if (closed) {
            throw new IllegalStateException("cuBLAS handle closed");
        }
        int ab = dataType(a.dtype());
        int c = dataType(out.dtype());
        MemorySegment pa = MemorySegment.ofAddress(a.buffer().address());
        MemorySegment pw = MemorySegment.ofAddress(w.buffer().address());
        MemorySegment pc = MemorySegment.ofAddress(out.buffer().address());
        stream.makeContextCurrent();
        int status = CublasLibrary.invoke(() -> (int) lib.gemmEx.invokeExact(handle, CublasLibrary.OP_T, CublasLibrary.OP_N,
                n, m, k, one, pw, ab, k, pa, ab, k, zero, pc, c, n, CublasLibrary.COMPUTE_32F,
                CublasLibrary.GEMM_DEFAULT));
        if (status != 0) {
            throw new CohortException("cublasGemmEx (" + m + "x" + n + "x" + k + " " + a.dtype() + " -> " + out.dtype()
                    + ") on cuda:" + stream.deviceOrdinal() + " failed: " + CublasLibrary.status(status));
        }
    }

    static int dataType(DType dtype) {
        return switch (dtype) {
            case F32 -> CublasLibrary.CUDA_R_32F;
            case F16 -> CublasLibrary.CUDA_R_16F;
            case BF16 -> CublasLibrary.CUDA_R_16BF;
        };
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        stream.makeContextCurrent();
        int status = CublasLibrary.invoke(() -> (int) lib.destroy.invokeExact(handle));
        arena.close();
        check(status, "cublasDestroy_v2");
    }

    private void check(int status, String call) {
        CublasLibrary.check(status, call, stream.deviceOrdinal());
    }
}
