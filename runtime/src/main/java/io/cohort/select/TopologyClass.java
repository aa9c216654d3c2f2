package io.cohort.select;

import io.cohort.topology.Topology;
import java.util.Locale;

/** The shape of a topology as the selection rules see it. */
public enum TopologyClass {
    /** P2P between every pair (also a single device). */
    FULLY_CONNECTED,
    /** Some pairs with P2P, some without: islands, or a partial mesh. */
    ISLANDS,
    /** No pair has P2P: everything is staged through host memory. */
    NO_P2P,
    /** Matches every topology (rules only). */
    ANY;

    /** The class of {@code topology} (never ANY). */
    public static TopologyClass of(Topology topology) {
        if (topology.fullyConnected()) {
            return FULLY_CONNECTED;
        }
        for (int i = 0; i < topology.size(); i++) {
            for (int j = 0; j < topology.size(); j++) {
                if (i != j && topology.p2p(i, j)) {
                    return ISLANDS;
                }
            }
        }
        return NO_P2P;
    }

    /** Whether a rule for this class applies to a topology of class {@code actual}. */
    public boolean matches(TopologyClass actual) {
        return this == ANY || this == actual;
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static TopologyClass parse(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        if (n.equals("*")) {
            return ANY;
        }
        try {
            return valueOf(n);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown topology class '" + name
                    + "' (expected fully-connected, islands, no-p2p or any)");
        }
    }
}
