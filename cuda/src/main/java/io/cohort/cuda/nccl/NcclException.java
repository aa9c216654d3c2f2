package io.cohort.cuda.nccl;

import io.cohort.core.CohortException;

/**
 * An NCCL call returned an error (or a communicator reported one asynchronously). The message names the
 * call, the rank and device, the {@code ncclResult_t} by its C name, NCCL's text for it and, where NCCL keeps
 * one, the last error it logged for the communicator.
 */
public class NcclException extends CohortException {

    private final int code;

    public NcclException(String message, int code) {
        super(message);
        this.code = code;
    }

    public NcclException(String message, int code, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** The raw {@code ncclResult_t} value. */
    public int code() {
        return code;
    }

    public NcclResult result() {
        return NcclResult.of(code);
    }

    /**
     * Builds the exception for {@code code} returned by {@code what} (e.g. "ncclAllReduce on rank 1 (cuda:1)").
     * {@code comm} is the communicator handle whose last error to add, or 0 for none.
     */
    public static NcclException of(NcclApi api, int code, long comm, String what) {
        StringBuilder sb = new StringBuilder(what).append(" failed: ").append(NcclResult.nameOf(code));
        String text = safe(() -> api.getErrorString(code));
        if (!text.isBlank()) {
            sb.append(" (").append(text).append(')');
        }
        String last = safe(() -> api.getLastError(comm));
        if (!last.isBlank()) {
            sb.append(": ").append(last.strip());
        }
        return new NcclException(sb.toString(), code);
    }

    /** Throws {@link #of} unless {@code code} is ncclSuccess. */
    public static void check(NcclApi api, int code, long comm, String what) {
        if (code != 0) {
            throw of(api, code, comm, what);
        }
    }

    private static String safe(java.util.function.Supplier<String> text) {
        try {
            String s = text.get();
            return s == null ? "" : s;
        } catch (RuntimeException e) {
            // the error text is a courtesy: never let it hide the error being reported
            return "";
        }
    }
}
