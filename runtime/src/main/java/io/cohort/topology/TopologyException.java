package io.cohort.topology;

import io.cohort.core.CohortException;

/** A topology is malformed (file syntax, sizes, link kinds) or does not fit the devices it is used for. */
public class TopologyException extends CohortException {
    public TopologyException(String message) {
        super(message);
    }

    public TopologyException(String message, Throwable cause) {
        super(message, cause);
    }
}
