package io.cohort.plan;

/** Builds plans of one algorithm. Stateless and thread-safe; callers cache the plans. */
public interface Planner {
    Algorithm algorithm();

    /** A plan for the request; it uses only links of {@code request.topology()} (host staging elsewhere). */
    Plan plan(PlanRequest request);
}
