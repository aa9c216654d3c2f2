package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Runs everywhere (no GPU needed). */
class CublasLibraryTest {

    @Test
    void missingLibraryErrorNamesThePathsTried() {
        assumeTrue(!CublasLibrary.isAvailable(), "cuBLAS is installed here");
        CohortException e = assertThrows(CohortException.class, CublasLibrary::load);
        assertTrue(e.getMessage().contains(CublasLibrary.SONAME) && e.getMessage().contains("/usr/local/cuda/lib64")
                && e.getMessage().contains("cohort.cublas.library"), e.getMessage());
    }

    @Test
    void missingCublasLtErrorNamesThePathsTriedAndTheProperty() {
        assumeTrue(!CublasLtLibrary.isAvailable(), "cuBLASLt is installed here");
        CohortException e = assertThrows(CohortException.class, CublasLtLibrary::load);
        assertTrue(e.getMessage().startsWith("cannot load cuBLASLt (" + CublasLtLibrary.SONAME + "); tried ")
                && e.getMessage().contains("/usr/local/cuda/lib64/" + CublasLtLibrary.SONAME)
                && e.getMessage().contains("-Dcohort.cublaslt.library / COHORT_CUBLASLT_LIBRARY"), e.getMessage());
    }

    @Test
    void onlyTheHeuristicsSuccessfulEntriesAreKeptInTheirOrder() {
        try (Arena arena = Arena.ofConfined()) {
            int[] states = {0, 15, 0, 7, 0};
            MemorySegment results = arena.allocate(CublasLtLibrary.RESULT_BYTES * states.length, 8);
            for (int i = 0; i < states.length; i++) {
                long at = i * CublasLtLibrary.RESULT_BYTES;
                results.set(ValueLayout.JAVA_LONG, at, 1000 + i);   // algo.data[0]: which entry this is
                results.set(ValueLayout.JAVA_LONG, at + CublasLtLibrary.RESULT_WORKSPACE, 10 * i);
                results.set(ValueLayout.JAVA_INT, at + CublasLtLibrary.RESULT_STATE, states[i]);
            }
            assertEquals(3, CublasLtGemm.usable(results, states.length));
            long[] kept = new long[3];
            for (int i = 0; i < 3; i++) {
                long at = i * CublasLtLibrary.RESULT_BYTES;
                kept[i] = results.get(ValueLayout.JAVA_LONG, at);
                assertEquals(10 * (kept[i] - 1000), results.get(ValueLayout.JAVA_LONG,
                        at + CublasLtLibrary.RESULT_WORKSPACE), "entry " + i + " moved whole");
            }
            assertArrayEquals(new long[] {1000, 1002, 1004}, kept);
        }
    }

    @Test
    void dtypesMapToCuda13DataTypes() {
        // library_types.h of CUDA 13: CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14
        assertEquals(0, CublasGemm.dataType(DType.F32));
        assertEquals(2, CublasGemm.dataType(DType.F16));
        assertEquals(14, CublasGemm.dataType(DType.BF16));
    }
}
