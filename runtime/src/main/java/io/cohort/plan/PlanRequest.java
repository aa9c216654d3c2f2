package io.cohort.plan;

import io.cohort.core.Collective;
import io.cohort.topology.Topology;

/**
 * What to plan: a collective of {@code count} elements per rank (see {@link Collective}) among the ranks of
 * {@code topology}. {@code arity} is used by KARY_TREE; {@code chunkElements} bounds one pipelined
 * transfer (0 = no pipelining).
 */
public record PlanRequest(Collective collective, Topology topology, long count, int root, int arity,
                          long chunkElements) {
    public PlanRequest {
        if (count < 0) {
            throw new IllegalArgumentException("negative count " + count);
        }
        if (root < 0 || root >= topology.size()) {
            throw new IllegalArgumentException("root " + root + " outside 0.." + (topology.size() - 1));
        }
        if (arity < 2) {
            throw new IllegalArgumentException("tree arity must be at least 2, got " + arity);
        }
        if (chunkElements < 0) {
            throw new IllegalArgumentException("negative chunk " + chunkElements);
        }
        // planners address count * ranks elements (REDUCE_SCATTER send, ALL_GATHER recv) in int-sized steps
        if (count > Integer.MAX_VALUE && count > Long.MAX_VALUE / Math.max(1, topology.size()) / 8) {
            throw new IllegalArgumentException("count " + count + " is too large for " + topology.size() + " ranks");
        }
    }

    public static PlanRequest of(Collective collective, Topology topology, long count) {
        return new PlanRequest(collective, topology, count, 0, 4, 0);
    }

    public int ranks() {
        return topology.size();
    }
}
