package io.cohort.plan;

import io.cohort.core.CohortException;

/** A plan breaks the rules of {@link Step}: a missing link, a race, a deadlock, a buffer overrun. */
public class PlanException extends CohortException {
    public PlanException(String message) {
        super(message);
    }
}
