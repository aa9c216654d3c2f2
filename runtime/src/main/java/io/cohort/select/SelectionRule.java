package io.cohort.select;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.plan.Algorithm;
import io.cohort.topology.Topology;

/**
 * One row of the {@link SelectionTable}: when a call matches every condition, use {@code algorithm}
 * (with {@code arity} for KARY_TREE). Null collective / dtype mean any; byte and rank bounds are inclusive.
 */
public record SelectionRule(Collective collective, TopologyClass topology, int minRanks, int maxRanks,
                            long minBytes, long maxBytes, DType dtype, Algorithm algorithm, int arity) {

    public SelectionRule {
        if (minRanks < 1 || maxRanks < minRanks) {
            throw new IllegalArgumentException("rank range " + minRanks + ".." + maxRanks + " is empty");
        }
        if (minBytes < 0 || maxBytes < minBytes) {
            throw new IllegalArgumentException("byte range " + minBytes + ".." + maxBytes + " is empty");
        }
        if (arity < 2) {
            throw new IllegalArgumentException("arity " + arity + " (need at least 2)");
        }
    }

    public boolean matches(Collective c, Topology t, TopologyClass shape, long messageBytes, DType type) {
        return (collective == null || collective == c)
                && topology.matches(shape)
                && t.size() >= minRanks && t.size() <= maxRanks
                && messageBytes >= minBytes && messageBytes <= maxBytes
                && (dtype == null || dtype == type);
    }

    @Override
    public String toString() {
        return (collective == null ? "*" : collective.cliName()) + ", " + topology.configName() + ", ranks "
                + minRanks + ".." + (maxRanks == Integer.MAX_VALUE ? "" : maxRanks) + ", bytes " + minBytes + ".."
                + (maxBytes == Long.MAX_VALUE ? "" : maxBytes) + ", " + (dtype == null ? "*" : dtype.name().toLowerCase())
                + " -> " + algorithm.cliName() + (algorithm == Algorithm.KARY_TREE ? " (arity " + arity + ")" : "");
    }
}
