package io.cohort.nn.cuda;

import io.cohort.core.CohortException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The cuBLAS 13 entry points Cohort uses, bound once through java.lang.foreign. The library is searched for in
 * order: the system property {@code cohort.cublas.library} or variable {@code COHORT_CUBLAS_LIBRARY} (a path),
 * the dynamic loader's own search ({@code libcublas.so.13} via LD_LIBRARY_PATH / ldconfig), then
 * {@code $CUDA_HOME/lib64}, {@code /usr/local/cuda/lib64}, {@code /usr/local/cuda-13*}/lib64 and
 * {@code /usr/lib/x86_64-linux-gnu}. If none loads, the error names every place tried.
 *
 * <p>Enum values below are those of CUDA 13's cublas_api.h and library_types.h.
 */
public final class CublasLibrary {
    public static final String SONAME = "libcublas.so.13";

    // cublasOperation_t
    static final int OP_N = 0;
    static final int OP_T = 1;
    // cudaDataType (library_types.h)
    static final int CUDA_R_32F = 0;
    static final int CUDA_R_16F = 2;
    static final int CUDA_R_16BF = 14;
    // cublasComputeType_t
    static final int COMPUTE_32F = 68;
    // cublasGemmAlgo_t
    static final int GEMM_DEFAULT = -1;

    private static final LoadOnce<CublasLibrary> INSTANCE = new LoadOnce<>(CublasLibrary::open);

    final MethodHandle create;
    final MethodHandle destroy;
    final MethodHandle setStream;
    final MethodHandle gemmEx;
    final MethodHandle getVersion;
    /** cublasSetWorkspace_v2(handle, void*, size_t), or null where the library lacks it. */
    final MethodHandle setWorkspace;
    private final Path path;

    private CublasLibrary(SymbolLookup lib, Path path) {
        Linker linker = Linker.nativeLinker();
        this.path = path;
        this.create = linker.downcallHandle(find(lib, "cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        this.destroy = linker.downcallHandle(find(lib, "cublasDestroy_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        this.setStream = linker.downcallHandle(find(lib, "cublasSetStream_v2"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        this.getVersion = linker.downcallHandle(find(lib, "cublasGetVersion_v2"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        this.setWorkspace = lib.find("cublasSetWorkspace_v2").map(s -> linker.downcallHandle(s,
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, java.lang.foreign.ValueLayout.JAVA_LONG))).orElse(null);
        // cublasGemmEx(handle, transa, transb, m, n, k, alpha*, A*, Atype, lda, B*, Btype, ldb, beta*, C*, Ctype,
        //              ldc, computeType, algo)
        this.gemmEx = linker.downcallHandle(find(lib, "cublasGemmEx"), FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new CohortException(SONAME + " lacks " + name
                + " (not cuBLAS 13?)"));
    }

    /** The bound library, loaded on first use; throws naming every path tried when it cannot be found. */
    public static CublasLibrary load() {
        return INSTANCE.get();
    }

    /** Whether cuBLAS can be loaded here (for tests' assumptions). */
    public static boolean isAvailable() {
        return INSTANCE.available();
    }

    public Path path() {
        return path;
    }

    private static CublasLibrary open() {
        return open(SONAME, "cohort.cublas.library", "COHORT_CUBLAS_LIBRARY", "cuBLAS", CublasLibrary::new);
    }

    /**
     * Binds the first of {@link #candidates} that loads; else throws naming every place tried and the property
     * and variable that point at the library (cuBLAS and cuBLASLt search alike).
     */
    static <T> T open(String soname, String property, String variable, String what,
                      java.util.function.BiFunction<SymbolLookup, Path, T> bind) {
        List<String> tried = new ArrayList<>();
        for (String candidate : candidates(soname, property, variable)) {
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(candidate, Arena.global());
                return bind.apply(lookup, Path.of(candidate));
            } catch (IllegalArgumentException e) {
                tried.add(candidate);
            }
        }
        throw new CohortException("cannot load " + what + " (" + soname + "); tried " + String.join(", ", tried)
                + ". Install CUDA 13's " + what + " or point -D" + property + " / " + variable + " at it.");
    }

    /**
     * Where a CUDA 13 library is looked for, in order: the system property, the variable (paths), the dynamic
     * loader's own search, then $CUDA_HOME/lib64, /usr/local/cuda/lib64, /usr/local/cuda-13* and
     * /usr/lib/x86_64-linux-gnu.
     */
    static Set<String> candidates(String soname, String property, String variable) {
        Set<String> c = new LinkedHashSet<>();
        String prop = System.getProperty(property);
        if (prop != null && !prop.isBlank()) {
            c.add(prop);
        }
        String env = System.getenv(variable);
        if (env != null && !env.isBlank()) {
            c.add(env);
        }
        c.add(soname);
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null) {
            c.add(Path.of(cudaHome, "lib64", soname).toString());
        }
        c.add("/usr/local/cuda/lib64/" + soname);
        try (var dirs = Files.newDirectoryStream(Path.of("/usr/local"), "cuda-13*")) {
            for (Path d : dirs) {
                c.add(d.resolve("lib64").resolve(soname).toString());
                c.add(d.resolve("targets/x86_64-linux/lib").resolve(soname).toString());
            }
        } catch (Exception e) {
            // no /usr/local: nothing to add
        }
        c.add("/usr/lib/x86_64-linux-gnu/" + soname);
        return c;
    }

    /** A downcall into cuBLAS or cuBLASLt, returning its status. */
    @FunctionalInterface
    interface NativeCall {
        int call() throws Throwable;
    }

    /** Runs a downcall; a Throwable the handle itself throws (not a status) becomes a CohortException. */
    static int invoke(NativeCall call) {
        try {
            return call.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new CohortException("cuBLAS call failed: " + t, t);
        }
    }

    /** Throws naming the call, the device and the status, unless {@code status} is success. */
    static void check(int status, String call, int device) {
        if (status != 0) {
            throw new CohortException(call + " on cuda:" + device + " failed: " + status(status));
        }
    }

    static String status(int code) {
        return switch (code) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "cuBLAS status " + code;
        };
    }
}
