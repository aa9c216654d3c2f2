package io.cohort.config;

import io.cohort.core.CohortException;

/** A configuration Cohort cannot run with: unknown key, wrongly typed value, value outside its choices, bad HOCON. */
public final class InvalidConfigException extends CohortException {
    public InvalidConfigException(String message) {
        super(message);
    }
}
