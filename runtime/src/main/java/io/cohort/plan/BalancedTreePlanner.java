package io.cohort.plan;

import io.cohort.topology.LinkPerformance;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.List;

/**
 * A tree shaped by the topology's islands ({@link Topology#islands()}: groups with P2P between every pair),
 * so that data crosses island boundaries once per island:
 *
 * <ul>
 *   <li>The root's island: every member hangs directly under the root (one hop over a direct link).</li>
 *   <li>Every other island: one leader, and its members hang directly under the leader. The leader and the
 *       node of the root's island it attaches to are the pair with the best link between the two islands;
 *       ties go to attaching at the root itself (shallower), then to the lowest leader rank.</li>
 * </ul>
 * Depth is 1 on a single island, 2 when other islands attach at the root, 3 when a better link attaches an
 * island at a member of the root's island (partial meshes). Parents reduce their own island's members first,
 * then attached leaders, which meanwhile reduce their islands.
 *
 * <p>{@code islands-8}, root 0: {@code 0<-[1,2,3,4] 4<-[5,6,7]} (one staged edge, 0-4).
 * {@code partial-4}, root 0: {@code 0<-[1] 1<-[2] 2<-[3]} (all NVLink, no staging).
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
        List<int[]> islands = topology.islands();
        int[] home = islands.stream().filter(is -> contains(is, root)).findFirst().orElseThrow();
        int[] parent = new int[n];
        List<List<Integer>> kids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            kids.add(new ArrayList<>());
        }
        parent[root] = -1;
        for (int m : home) {
            if (m != root) {
                parent[m] = root;
                kids.get(root).add(m);
            }
        }
        for (int[] island : islands) {
            if (island == home) {
                continue;
            }
            int leader = -1;
            int attach = -1;
            double best = -1;
            for (int a : preferRoot(home, root)) {
                for (int l : island) {
                    double bw = Math.min(LinkPerformance.estimatedBandwidthGBps(topology.link(a, l)),
                            LinkPerformance.estimatedBandwidthGBps(topology.link(l, a)));
                    if (bw > best + 1e-9) {
                        best = bw;
                        leader = l;
                        attach = a;
                    }
                }
            }
            parent[leader] = attach;
            kids.get(attach).add(leader);
            for (int m : island) {
                if (m != leader) {
                    parent[m] = leader;
                    kids.get(leader).add(m);
                }
            }
        }
        List<int[]> children = kids.stream().map(l -> l.stream().mapToInt(Integer::intValue).toArray()).toList();
        return new Tree(root, parent, children, "balanced tree over " + islands.size() + " island(s)");
    }

    private static int[] preferRoot(int[] home, int root) {
        int[] out = new int[home.length];
        out[0] = root;
        int k = 1;
        for (int m : home) {
            if (m != root) {
                out[k++] = m;
            }
        }
        return out;
    }

    private static boolean contains(int[] island, int rank) {
        for (int m : island) {
            if (m == rank) {
                return true;
            }
        }
        return false;
    }
}
