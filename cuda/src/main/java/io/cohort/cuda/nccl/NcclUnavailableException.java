package io.cohort.cuda.nccl;

import io.cohort.core.CohortException;

/** NCCL cannot be used here: the library is absent, fails to load, lacks a function or is too old. */
public class NcclUnavailableException extends CohortException {
    public NcclUnavailableException(String message) {
        super(message);
    }

    public NcclUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
