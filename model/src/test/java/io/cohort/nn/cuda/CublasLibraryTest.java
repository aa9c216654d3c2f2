package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
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
    void dtypesMapToCuda13DataTypes() {
        // library_types.h of CUDA 13: CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14
        assertEquals(0, CublasGemm.dataType(DType.F32));
        assertEquals(2, CublasGemm.dataType(DType.F16));
        assertEquals(14, CublasGemm.dataType(DType.BF16));
    }
}
