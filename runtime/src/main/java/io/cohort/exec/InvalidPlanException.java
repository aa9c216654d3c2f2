package io.cohort.exec;

import io.cohort.core.CohortException;

/** A plan that cannot run correctly: a Wait nobody signals, an out-of-range access, an unreachable peer. */
public class InvalidPlanException extends CohortException {
    public InvalidPlanException(String message) {
        super(message);
    }
}
