package io.cohort.plan;

import java.util.Locale;

/** Reduction algorithms the planners build from a topology. */
public enum Algorithm {
    /** Ring reduce-scatter then all-gather: bandwidth-optimal, 2(n-1) steps. */
    RING,
    /** Reduce up a binary tree to the root, then broadcast down: log2(n) depth. */
    BINARY_TREE,
    /** Like BINARY_TREE with k children per node ({@code arity}). */
    KARY_TREE,
    /** Tree shaped by the topology: islands reduce inside first over their best links, leaders across. */
    BALANCED_TREE,
    /** Every rank reads every peer and reduces locally in one step: the latency path for small messages. */
    ONE_SHOT;

    public String cliName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static Algorithm parse(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        return switch (n) {
            case "TREE", "BINARY" -> BINARY_TREE;
            case "KARY", "K_ARY", "K_ARY_TREE" -> KARY_TREE;
            case "BALANCED" -> BALANCED_TREE;
            case "ONESHOT", "DIRECT" -> ONE_SHOT;
            default -> {
                try {
                    yield valueOf(n);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown algorithm '" + name
                            + "' (expected ring, binary-tree, kary-tree, balanced-tree or one-shot)");
                }
            }
        };
    }
}
