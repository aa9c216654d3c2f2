package io.cohort.plan;

/** The planner of each algorithm. (Stub: filled in with the planners.) */
public final class Planners {
    private Planners() {
    }

    public static Planner of(Algorithm algorithm) {
        throw new UnsupportedOperationException("planner for " + algorithm + " not written yet");
    }
}
