package io.cohort.memory;

import io.cohort.core.CohortException;

/** A pool cannot satisfy an allocation. */
public class PoolExhaustedException extends CohortException {
    public PoolExhaustedException(String message) {
        super(message);
    }
}
