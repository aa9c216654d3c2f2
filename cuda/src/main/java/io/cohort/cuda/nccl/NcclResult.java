package io.cohort.cuda.nccl;

/**
 * The values of {@code ncclResult_t} (nccl.h of NCCL 2.28; {@code ncclTimeout} arrived after 2.28). A code this
 * enum does not know maps to {@link #UNKNOWN}; {@link NcclException#code()} keeps the raw value.
 */
public enum NcclResult {
    SUCCESS(0, "ncclSuccess"),
    UNHANDLED_CUDA_ERROR(1, "ncclUnhandledCudaError"),
    SYSTEM_ERROR(2, "ncclSystemError"),
    INTERNAL_ERROR(3, "ncclInternalError"),
    INVALID_ARGUMENT(4, "ncclInvalidArgument"),
    INVALID_USAGE(5, "ncclInvalidUsage"),
    REMOTE_ERROR(6, "ncclRemoteError"),
    /** Only from non-blocking communicators, or from the async-error query while one is still being set up. */
    IN_PROGRESS(7, "ncclInProgress"),
    TIMEOUT(8, "ncclTimeout"),
    UNKNOWN(-1, "ncclResult_t(?)");

    private static final NcclResult[] BY_CODE = {
        SUCCESS, UNHANDLED_CUDA_ERROR, SYSTEM_ERROR, INTERNAL_ERROR, INVALID_ARGUMENT, INVALID_USAGE,
        REMOTE_ERROR, IN_PROGRESS, TIMEOUT
    };

    private final int code;
    private final String cName;

    NcclResult(int code, String cName) {
        this.code = code;
        this.cName = cName;
    }

    /** The numeric value of the C enum. */
    public int code() {
        return code;
    }

    /** The enumerator's name in nccl.h, e.g. {@code ncclInvalidArgument}. */
    public String cName() {
        return cName;
    }

    public static NcclResult of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : UNKNOWN;
    }

    /** The C name of {@code code}, spelling unknown codes out as {@code ncclResult_t(42)}. */
    public static String nameOf(int code) {
        NcclResult r = of(code);
        return r == UNKNOWN ? "ncclResult_t(" + code + ")" : r.cName;
    }
}
