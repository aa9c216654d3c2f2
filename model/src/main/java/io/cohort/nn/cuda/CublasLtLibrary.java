package io.cohort.nn.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.cohort.core.CohortException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * The cuBLASLt 13 entry points Cohort uses ({@code libcublasLt.so.13}, which ships beside cuBLAS), bound once
 * through java.lang.foreign; searched for as {@link CublasLibrary} is, with {@code cohort.cublaslt.library} /
 * {@code COHORT_CUBLASLT_LIBRARY}. Enum values and the heuristic result's layout are those of CUDA 13's
 * cublasLt.h.
 */
public final class CublasLtLibrary {
    public static final String SONAME = "libcublasLt.so.13";

    // cublasLtMatmulDescAttributes_t (int32 cublasOperation_t values)
    static final int DESC_TRANSA = 3;
    static final int DESC_TRANSB = 4;
    // cublasLtMatmulPreferenceAttributes_t (uint64)
    static final int PREF_MAX_WORKSPACE_BYTES = 1;
    /**
     * cublasLtMatmulHeuristicResult_t: cublasLtMatmulAlgo_t algo (uint64_t data[8]) at 0, size_t workspaceSize
     * at 64, cublasStatus_t state at 72, float wavesCount at 76, int reserved[4]: 96 bytes.
     */
    static final long RESULT_BYTES = 96;
    static final long RESULT_WORKSPACE = 64;
    static final long RESULT_STATE = 72;
    static final long RESULT_WAVES = 76;

    private static final LoadOnce<CublasLtLibrary> INSTANCE = new LoadOnce<>(() -> CublasLibrary.open(SONAME,
            "cohort.cublaslt.library", "COHORT_CUBLASLT_LIBRARY", "cuBLASLt", CublasLtLibrary::new));

    final MethodHandle create;
    final MethodHandle destroy;
    final MethodHandle descCreate;
    final MethodHandle descDestroy;
    final MethodHandle descSetAttribute;
    final MethodHandle layoutCreate;
    final MethodHandle layoutDestroy;
    final MethodHandle preferenceCreate;
    final MethodHandle preferenceDestroy;
    final MethodHandle preferenceSetAttribute;
    final MethodHandle heuristic;
    final MethodHandle matmul;
    private final Path path;

    private CublasLtLibrary(SymbolLookup lib, Path path) {
        Linker l = Linker.nativeLinker();
        this.path = path;
        this.create = l.downcallHandle(find(lib, "cublasLtCreate"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        this.destroy = l.downcallHandle(find(lib, "cublasLtDestroy"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // cublasLtMatmulDescCreate(desc*, cublasComputeType_t, cudaDataType_t scaleType)
        this.descCreate = l.downcallHandle(find(lib, "cublasLtMatmulDescCreate"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        this.descDestroy = l.downcallHandle(find(lib, "cublasLtMatmulDescDestroy"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // ...SetAttribute(object, attribute, const void* buf, size_t sizeInBytes)
        FunctionDescriptor setAttribute = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
        this.descSetAttribute = l.downcallHandle(find(lib, "cublasLtMatmulDescSetAttribute"), setAttribute);
        // cublasLtMatrixLayoutCreate(layout*, cudaDataType, uint64_t rows, uint64_t cols, int64_t ld)
        this.layoutCreate = l.downcallHandle(find(lib, "cublasLtMatrixLayoutCreate"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        this.layoutDestroy = l.downcallHandle(find(lib, "cublasLtMatrixLayoutDestroy"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        this.preferenceCreate = l.downcallHandle(find(lib, "cublasLtMatmulPreferenceCreate"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
        this.preferenceDestroy = l.downcallHandle(find(lib, "cublasLtMatmulPreferenceDestroy"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
        this.preferenceSetAttribute = l.downcallHandle(find(lib, "cublasLtMatmulPreferenceSetAttribute"), setAttribute);
        // cublasLtMatmulAlgoGetHeuristic(handle, opDesc, A, B, C, D layouts, preference, int requested,
        //                                cublasLtMatmulHeuristicResult_t results[], int* returned)
        this.heuristic = l.downcallHandle(find(lib, "cublasLtMatmulAlgoGetHeuristic"), FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        // cublasLtMatmul(handle, desc, alpha*, A*, Adesc, B*, Bdesc, beta*, C*, Cdesc, D*, Ddesc, algo*,
        //                workspace*, size_t workspaceBytes, cudaStream_t)
        this.matmul = l.downcallHandle(find(lib, "cublasLtMatmul"), FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new CohortException(SONAME + " lacks " + name + " (not cuBLASLt 13?)"));
    }

    /** The bound library, loaded on first use; throws naming every path tried when it cannot be found. */
    public static CublasLtLibrary load() {
        return INSTANCE.get();
    }

    /** The library in {@code file}, bound apart from the one {@link #load} shares (tests of the binding). */
    static CublasLtLibrary bind(Path file) {
        return new CublasLtLibrary(SymbolLookup.libraryLookup(file, Arena.global()), file);
    }

    /** Whether cuBLASLt can be loaded here (for tests' assumptions). */
    public static boolean isAvailable() {
        return INSTANCE.available();
    }

    public Path path() {
        return path;
    }
}
