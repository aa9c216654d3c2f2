package io.cohort.core;

/** Base of every error Cohort raises on purpose: bad input, exhausted pools, failed or timed-out collectives. */
public class CohortException extends RuntimeException {
    public CohortException(String message) {
        super(message);
    }

    public CohortException(String message, Throwable cause) {
        super(message, cause);
    }
}
