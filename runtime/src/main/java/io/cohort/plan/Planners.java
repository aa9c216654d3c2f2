package io.cohort.plan;

import java.util.EnumMap;
import java.util.Map;

/** The planner of each algorithm. Planners are stateless, so one instance each serves every caller. */
public final class Planners {

    private static final Map<Algorithm, Planner> PLANNERS = new EnumMap<>(Algorithm.class);

    static {
        for (Planner p : new Planner[] {new RingPlanner(), new BinaryTreePlanner(), new KaryTreePlanner(),
                new BalancedTreePlanner(), new OneShotPlanner()}) {
            PLANNERS.put(p.algorithm(), p);
        }
    }

    private Planners() {
    }

    /** The planner for {@code algorithm}; every {@link Algorithm} has one. */
    public static Planner of(Algorithm algorithm) {
        return PLANNERS.get(algorithm);
    }

    /** Shorthand: {@code of(algorithm).plan(request)}. */
    public static Plan plan(Algorithm algorithm, PlanRequest request) {
        return of(algorithm).plan(request);
    }
}
