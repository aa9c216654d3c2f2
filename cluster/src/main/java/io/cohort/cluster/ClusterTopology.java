package io.cohort.cluster;

import io.cohort.core.Collective;
import io.cohort.plan.RingPlanner;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The two-level topology of a group spanning nodes: nodes (their leaders joined by the network) x the local
 * devices of each node (joined by whatever the node detected). The leaders' level is planned by the same
 * {@link RingPlanner} as devices inside a node, on a topology whose links are all network hops.
 */
public final class ClusterTopology {
    private ClusterTopology() {
    }

    /** A link between two node leaders: no P2P, staged through host memory and the network. */
    public static Link networkLink() {
        return new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN);
    }

    /** The leaders' level as a topology (device i = leader of node i). */
    public static Topology leaders(List<NodeInfo> nodes) {
        return Topology.uniform("leaders", nodes.stream().map(NodeInfo::address).toList(), networkLink());
    }

    /** The ring order of the leaders: the group's node i is nodes.get(order[i]). */
    public static int[] leaderOrder(List<NodeInfo> nodes) {
        return RingPlanner.ringOrder(leaders(nodes));
    }

    /** "3 nodes x 2 devices = 6 ranks", then one line per node: its address, ranks, devices and backend. */
    public static String render(List<NodeInfo> nodes) {
        int perNode = nodes.isEmpty() ? 0 : nodes.getFirst().devices().size();
        StringBuilder sb = new StringBuilder();
        sb.append(nodes.size()).append(" nodes x ").append(perNode).append(" devices = ")
                .append(nodes.size() * perNode).append(" ranks");
        for (int n = 0; n < nodes.size(); n++) {
            NodeInfo info = nodes.get(n);
            sb.append("\n  node ").append(n).append(' ').append(info.address()).append(" (").append(info.role())
                    .append(", local backend ").append(info.backend()).append(')');
            for (int l = 0; l < info.devices().size(); l++) {
                sb.append("\n    rank ").append(n * perNode + l).append(": ").append(info.devices().get(l))
                        .append(l == 0 ? "  (leader)" : "");
            }
        }
        return sb.toString();
    }

    /** The three levels {@code collective} runs in on {@code nodes} (in leader order). */
    public static String describe(Collective collective, List<NodeInfo> nodes) {
        int perNode = nodes.getFirst().devices().size();
        // the group's nodes are already in ring order: leader i sends to leader i+1
        String ring = IntStream.range(0, nodes.size()).mapToObj(Integer::toString).collect(Collectors.joining(">"))
                + ">0 over aeron:udp";
        String leaderNames = nodes.stream().map(NodeInfo::address).collect(Collectors.joining(" > "));
        String[] levels = switch (collective) {
            case ALL_REDUCE -> new String[]{"reduce to local rank 0", "ring all-reduce (reduce-scatter + all-gather) "
                    + ring, "broadcast from local rank 0"};
            case BROADCAST -> new String[]{"root's node: broadcast from the root", "chain broadcast from the root's "
                    + "node over " + leaderNames, "other nodes: broadcast from local rank 0"};
            case REDUCE -> new String[]{"reduce to local rank 0", "chain reduce to the root's node over " + leaderNames,
                    "root's node: copy to the root"};
            case ALL_GATHER -> new String[]{"gather the " + perNode + " local blocks at local rank 0 (copies)",
                    "ring all-gather of " + perNode + "-block pieces " + ring, "broadcast from local rank 0"};
            case REDUCE_SCATTER -> new String[]{"reduce all blocks to local rank 0", "ring reduce-scatter of "
                    + perNode + "-block pieces " + ring, "scatter the node's blocks to its ranks (copies)"};
        };
        return collective.cliName() + " on " + nodes.size() + " nodes x " + perNode + " devices: 1) inside each node: "
                + levels[0] + "; 2) between node leaders: " + levels[1] + "; 3) inside each node: " + levels[2];
    }
}
