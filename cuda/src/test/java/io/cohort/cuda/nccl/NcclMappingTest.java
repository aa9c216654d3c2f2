package io.cohort.cuda.nccl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Cohort's types against the values of NCCL 2.28's nccl.h, and the error mapping. */
class NcclMappingTest {

    @Test
    void dataTypesAreNcclDataTypeValues() {
        // typedef enum { ..., ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8, ncclBfloat16 = 9, ... } ncclDataType_t;
        assertEquals(7, NcclEnums.dataType(DType.F32));
        assertEquals(6, NcclEnums.dataType(DType.F16));
        assertEquals(9, NcclEnums.dataType(DType.BF16));
    }

    @Test
    void reduceOpsAreNcclRedOpValues() {
        // typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4, ... } ncclRedOp_t;
        assertEquals(0, NcclEnums.redOp(ReduceOp.SUM));
        assertEquals(2, NcclEnums.redOp(ReduceOp.MAX));
        assertEquals(3, NcclEnums.redOp(ReduceOp.MIN));
        assertEquals(4, NcclEnums.redOp(ReduceOp.AVG));
    }

    @Test
    void resultCodesAreNcclResultValues() {
        String[] names = {"ncclSuccess", "ncclUnhandledCudaError", "ncclSystemError", "ncclInternalError",
            "ncclInvalidArgument", "ncclInvalidUsage", "ncclRemoteError", "ncclInProgress"};
        List<String> actual = new ArrayList<>();
        for (int code = 0; code < names.length; code++) {
            NcclResult r = NcclResult.of(code);
            assertEquals(code, r.code());
            actual.add(r.cName());
        }
        assertEquals(List.of(names), actual);
        assertEquals(NcclResult.UNKNOWN, NcclResult.of(42));
        assertEquals(NcclResult.UNKNOWN, NcclResult.of(-1));
        assertEquals("ncclResult_t(42)", NcclResult.nameOf(42));
    }

    @Test
    void exceptionNamesTheResultAndAddsNcclsTexts() {
        FakeNccl api = new FakeNccl(new ArrayList<>());
        api.lastError = "  Cuda failure 'out of memory'\n";
        NcclException e = NcclException.of(api, 1, 0xC000, "ncclCommInitAll over cuda devices [0]");
        assertEquals(NcclResult.UNHANDLED_CUDA_ERROR, e.result());
        assertEquals(1, e.code());
        assertEquals("ncclCommInitAll over cuda devices [0] failed: ncclUnhandledCudaError (fake error 1):"
                + " Cuda failure 'out of memory'", e.getMessage());
        assertTrue(e instanceof io.cohort.core.CohortException);
    }

    @Test
    void exceptionSurvivesBrokenErrorTexts() {
        NcclApi broken = new FakeNccl(new ArrayList<>()) {
            @Override
            public String getErrorString(int result) {
                throw new IllegalStateException("no library");
            }

            @Override
            public String getLastError(long comm) {
                return null;
            }
        };
        assertEquals("ncclGroupEnd failed: ncclRemoteError", NcclException.of(broken, 6, 0, "ncclGroupEnd").getMessage());
    }

    @Test
    void versionCodesDecodeInBothSchemes() {
        assertEquals(new NcclVersion(2, 28, 3), NcclVersion.fromCode(22803));
        assertEquals(new NcclVersion(2, 10, 3), NcclVersion.fromCode(21003));
        assertEquals(new NcclVersion(2, 7, 8), NcclVersion.fromCode(2708));
        assertTrue(NcclVersion.fromCode(22803).atLeast(NcclVersion.MINIMUM));
        assertFalse(NcclVersion.fromCode(2708).atLeast(NcclVersion.MINIMUM));
        assertEquals("2.28.3", NcclVersion.fromCode(22803).toString());
    }
}
