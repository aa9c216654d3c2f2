package io.cohort.cuda.nccl;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;

/** Cohort's element types and operators as the values of NCCL's C enums (nccl.h, unchanged through 2.28). */
public final class NcclEnums {

    /** {@code ncclDataType_t}: ncclFloat16 = ncclHalf. */
    public static final int NCCL_FLOAT16 = 6;
    /** {@code ncclDataType_t}: ncclFloat32 = ncclFloat. */
    public static final int NCCL_FLOAT32 = 7;
    /** {@code ncclDataType_t}: since NCCL 2.10. */
    public static final int NCCL_BFLOAT16 = 9;

    /** {@code ncclRedOp_t} values (ncclProd = 1 has no Cohort counterpart). */
    public static final int NCCL_SUM = 0;
    public static final int NCCL_MAX = 2;
    public static final int NCCL_MIN = 3;
    /** Since NCCL 2.10: sum, then divide by the rank count on the device. */
    public static final int NCCL_AVG = 4;

    private NcclEnums() {
    }

    public static int dataType(DType type) {
        return switch (type) {
            case F32 -> NCCL_FLOAT32;
            case F16 -> NCCL_FLOAT16;
            case BF16 -> NCCL_BFLOAT16;
        };
    }

    public static int redOp(ReduceOp op) {
        return switch (op) {
            case SUM -> NCCL_SUM;
            case MAX -> NCCL_MAX;
            case MIN -> NCCL_MIN;
            case AVG -> NCCL_AVG;
        };
    }
}
