package io.cohort.topology;

import java.util.ArrayList;
import java.util.List;

/**
 * Consistency rules for a {@link Topology}, whoever built it: SELF exactly on the diagonal, NVLink with a
 * link count, host-staged links without P2P, sane numbers, and the same kind / P2P / link count in both
 * directions of a pair unless the topology is declared asymmetric.
 */
public final class TopologyValidation {

    private TopologyValidation() {
    }

    /** Every rule broken by {@code topology}, one message each (empty when valid). */
    public static List<String> problems(Topology topology, boolean allowAsymmetric) {
        List<String> out = new ArrayList<>();
        int n = topology.size();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                Link l = topology.link(i, j);
                String pair = "link " + i + "->" + j;
                if (i == j) {
                    if (l.kind() != LinkKind.SELF) {
                        out.add(pair + " is on the diagonal but is " + l.kind() + ", not SELF");
                    }
                    continue;
                }
                if (l.kind() == LinkKind.SELF) {
                    out.add(pair + " joins two different devices but is SELF");
                }
                if (l.kind() == LinkKind.NVLINK && l.linkCount() < 1) {
                    out.add(pair + " is NVLink with " + l.linkCount() + " links (need at least 1)");
                }
                if (l.kind() != LinkKind.NVLINK && l.linkCount() != 0) {
                    out.add(pair + " is " + l.kind() + " but declares " + l.linkCount() + " NVLinks");
                }
                if (l.kind() == LinkKind.HOST_STAGED && l.p2p()) {
                    out.add(pair + " is host-staged (SYS) but declares P2P");
                }
                if (!Double.isNaN(l.bandwidthGBps()) && !(l.bandwidthGBps() > 0)) {
                    out.add(pair + " has bandwidth " + l.bandwidthGBps() + " GB/s (must be positive)");
                }
                if (!Double.isNaN(l.latencyUs()) && !(l.latencyUs() >= 0)) {
                    out.add(pair + " has latency " + l.latencyUs() + " us (must not be negative)");
                }
                if (!allowAsymmetric && i < j) {
                    Link back = topology.link(j, i);
                    if (l.kind() != back.kind() || l.p2p() != back.p2p() || l.linkCount() != back.linkCount()) {
                        out.add(pair + " is " + l.label() + (l.p2p() ? " with P2P" : " without P2P") + " but " + j
                                + "->" + i + " is " + back.label() + (back.p2p() ? " with P2P" : " without P2P")
                                + " (declare asymmetric = true if that is real)");
                    }
                }
            }
        }
        return out;
    }

    /** Throws a {@link TopologyException} listing every problem of {@code topology}. */
    public static Topology validate(Topology topology, boolean allowAsymmetric) {
        List<String> problems = problems(topology, allowAsymmetric);
        if (!problems.isEmpty()) {
            throw new TopologyException("topology " + topology.name() + " is invalid: " + String.join("; ", problems));
        }
        return topology;
    }
}
