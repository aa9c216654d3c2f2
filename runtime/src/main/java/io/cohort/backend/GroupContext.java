package io.cohort.backend;

import com.typesafe.config.Config;
import io.cohort.topology.Topology;
import java.util.List;

/**
 * Everything a backend is created from: the group's topology (rank i = ranks.get(i)), the ranks' resources
 * (only those in this process; {@code ranks.size() < topology.size()} when the group spans processes) and
 * the {@code cohort} configuration section.
 */
public record GroupContext(Topology topology, List<RankContext> ranks, Config config) {
    public GroupContext {
        ranks = List.copyOf(ranks);
    }
}
