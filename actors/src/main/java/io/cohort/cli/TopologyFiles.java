package io.cohort.cli;

import io.cohort.core.CohortException;
import io.cohort.topology.Topology;
import java.io.File;

/** Loading, rendering and judging topologies for {@code cohort topo}. (Placeholder until the planners land.) */
final class TopologyFiles {
    private TopologyFiles() {
    }

    static Topology load(File file) {
        throw new CohortException("topology files are not supported yet: " + file);
    }

    static String backendFor(Topology t) {
        return t.fullyConnected() ? "p2p (every pair has P2P)" : "native (some pairs lack P2P)";
    }

    static String render(Topology t) {
        StringBuilder sb = new StringBuilder(String.format("%-10s", ""));
        for (int j = 0; j < t.size(); j++) {
            sb.append(String.format("%-8s", "D" + j));
        }
        sb.append('\n');
        for (int i = 0; i < t.size(); i++) {
            sb.append(String.format("%-10s", "D" + i));
            for (int j = 0; j < t.size(); j++) {
                sb.append(String.format("%-8s", t.link(i, j).label()));
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
