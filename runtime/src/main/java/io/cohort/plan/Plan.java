package io.cohort.plan;

import io.cohort.core.Collective;
import java.util.List;

/**
 * The per-rank steps of one collective, built once per (request, algorithm) and cached. {@code steps.get(r)}
 * is rank r's list. {@code scratchElements} / {@code stagingElements}: device scratch and host staging each
 * rank needs. {@code description} says how the plan is shaped (ring order, tree edges), for logs and
 * {@code cohort topo}.
 */
public record Plan(Collective collective, Algorithm algorithm, int ranks, int root, long count,
                   List<List<Step>> steps, long scratchElements, long stagingElements, String description) {
    public Plan {
        steps = steps.stream().map(List::copyOf).toList();
        if (steps.size() != ranks) {
            throw new IllegalArgumentException("plan has " + steps.size() + " step lists for " + ranks + " ranks");
        }
    }

    public List<Step> stepsOf(int rank) {
        return steps.get(rank);
    }

    public int stepCount() {
        return steps.stream().mapToInt(List::size).sum();
    }

    /** The most Signal steps of any rank: the number of flags each rank needs (tags are 0..maxSignals-1). */
    public int maxSignals() {
        return steps.stream().mapToInt(list -> (int) list.stream().filter(s -> s instanceof Step.Signal).count())
                .max().orElse(0);
    }
}
