package io.cohort.plan;

import io.cohort.core.Collective;
import java.util.ArrayList;
import java.util.List;

/**
 * What every planner does the same way: the trivial cases (no elements; a single rank, which is a local
 * copy of send to recv) and the final reader barrier. Subclasses plan two or more ranks.
 */
abstract sealed class BasePlanner implements Planner
        permits RingPlanner, TreePlanner, OneShotPlanner {

    @Override
    public final Plan plan(PlanRequest request) {
        int n = request.ranks();
        Collective c = request.collective();
        if (request.count() == 0) {
            List<List<Step>> none = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                none.add(List.of());
            }
            return new Plan(c, algorithm(), n, request.root(), 0, none, 0, 0, "nothing to do: count is 0");
        }
        PlanBuilder b = new PlanBuilder(request);
        if (n == 1) {
            // send and recv have the same length for every collective with one rank
            b.copy(0, BufferRef.send(0, 0), BufferRef.recv(0, 0), request.count());
            return b.build(algorithm(), "single rank: copy send to recv");
        }
        String description = planRanks(b);
        return b.build(algorithm(), description);
    }

    /** Appends the steps for two or more ranks to {@code b}; returns the plan's description. */
    abstract String planRanks(PlanBuilder b);

    static String label(Collective c) {
        return c.cliName();
    }
}
