package io.cohort.model;

import io.cohort.core.CohortException;

/** A checkpoint or model configuration Cohort cannot use: malformed files, missing tensors, bad shapes. */
public class ModelException extends CohortException {
    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
