package io.cohort.cluster;

import io.cohort.core.CohortException;
import java.util.List;

/** A cluster operation failed; {@link #nodes()} names the nodes at fault (address), empty when none is known. */
public class ClusterException extends CohortException {
    private final List<String> nodes;

    public ClusterException(String message) {
        this(message, List.of());
    }

    public ClusterException(String message, List<String> nodes) {
        super(message);
        this.nodes = List.copyOf(nodes);
    }

    public List<String> nodes() {
        return nodes;
    }
}
