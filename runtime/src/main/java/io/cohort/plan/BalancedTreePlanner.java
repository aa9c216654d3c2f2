package io.cohort.plan;

import io.cohort.topology.LinkPerformance;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.List;

/**
 * A tree shaped by the topology's islands ({@link Topology#islands()}: groups with P2P between every pair).
 * Each island has a leader: the root in the root's island, elsewhere the member with the best link to the
 * root (lowest rank on ties). Members hang directly under their leader, over direct links; the other
 * leaders hang under the root. So the tree is as shallow as the islands allow (depth 1 on one island,
 * 2 with several) and only leader-to-root edges leave an island.
 *
 * <p>The root reduces its own island's members first, then the other leaders: those finish their own
 * islands meanwhile. On {@code islands-8} with root 0 the tree is {@code 0<-[1,2,3,4] 4<-[5,6,7]}.
 */
public final class BalancedTreePlanner extends TreePlanner {

    @Override
    public Algorithm algorithm() {
        return Algorithm.BALANCED_TREE;
    }

    @Override
    public Tree tree(PlanRequest request) {
        Topology topology = request.topology();
        int n = topology.size();
        int root = request.root();
        int[] parent = new int[n];
        List<int[]> children = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            children.add(new int[0]);
        }
        parent[root] = -1;
        List<Integer> rootKids = new ArrayList<>();
        List<Integer> otherLeaders = new ArrayList<>();
        for (int[] island : topology.islands()) {
            int leader = leader(topology, island, root);
            List<Integer> members = new ArrayList<>();
            for (int m : island) {
                if (m != leader) {
                    members.add(m);
                    parent[m] = leader;
                }
            }
            if (leader == root) {
                rootKids.addAll(0, members);
            } else {
                parent[leader] = root;
                otherLeaders.add(leader);
                children.set(leader, members.stream().mapToInt(Integer::intValue).toArray());
            }
        }
        rootKids.addAll(otherLeaders);
        children.set(root, rootKids.stream().mapToInt(Integer::intValue).toArray());
        return new Tree(root, parent, children, "balanced tree over " + topology.islands().size() + " island(s)");
    }

    private static int leader(Topology topology, int[] island, int root) {
        int best = -1;
        double bestBandwidth = -1;
        for (int m : island) {
            if (m == root) {
                return root;
            }
            double bw = Math.min(LinkPerformance.estimatedBandwidthGBps(topology.link(root, m)),
                    LinkPerformance.estimatedBandwidthGBps(topology.link(m, root)));
            if (bw > bestBandwidth) {
                best = m;
                bestBandwidth = bw;
            }
        }
        return best;
    }
}
