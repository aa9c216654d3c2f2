package io.cohort.topology;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Connections among N devices (ranks 0..N-1 of a group): a {@link Link} for every ordered pair.
 * Immutable. Planners read it to choose routes; {@code cohort topo} prints it.
 */
public final class Topology {

    private final String name;
    private final List<String> deviceNames;
    private final Link[][] links;

    public Topology(String name, List<String> deviceNames, Link[][] links) {
        this.name = Objects.requireNonNull(name);
        this.deviceNames = List.copyOf(deviceNames);
        int n = deviceNames.size();
        if (links.length != n) {
            throw new IllegalArgumentException("link matrix has " + links.length + " rows for " + n + " devices");
        }
        this.links = new Link[n][];
        for (int i = 0; i < n; i++) {
            if (links[i].length != n) {
                throw new IllegalArgumentException("link matrix row " + i + " has " + links[i].length + " entries for " + n + " devices");
            }
            this.links[i] = links[i].clone();
            for (int j = 0; j < n; j++) {
                Objects.requireNonNull(this.links[i][j], "link " + i + "->" + j);
            }
        }
    }

    /** Same links for every pair; SELF on the diagonal. */
    public static Topology uniform(String name, List<String> deviceNames, Link link) {
        int n = deviceNames.size();
        Link[][] m = new Link[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                m[i][j] = i == j ? Link.self() : link;
            }
        }
        return new Topology(name, deviceNames, m);
    }

    public String name() {
        return name;
    }

    public int size() {
        return deviceNames.size();
    }

    public List<String> deviceNames() {
        return deviceNames;
    }

    public Link link(int from, int to) {
        return links[from][to];
    }

    /** Whether {@code from} can access {@code to}'s memory directly (always true for from == to). */
    public boolean p2p(int from, int to) {
        return from == to || links[from][to].p2p();
    }

    /** Whether every pair has P2P in both directions. */
    public boolean fullyConnected() {
        for (int i = 0; i < size(); i++) {
            for (int j = 0; j < size(); j++) {
                if (!p2p(i, j)) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Islands: maximal groups of ranks in which every pair has P2P both ways, found greedily in rank
     * order (partial meshes are split so that inside an island every route is direct). Sorted by first rank.
     */
    public List<int[]> islands() {
        int n = size();
        boolean[] taken = new boolean[n];
        List<int[]> result = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (taken[i]) {
                continue;
            }
            List<Integer> island = new ArrayList<>();
            island.add(i);
            taken[i] = true;
            for (int j = i + 1; j < n; j++) {
                if (taken[j]) {
                    continue;
                }
                boolean all = true;
                for (int k : island) {
                    if (!p2p(k, j) || !p2p(j, k)) {
                        all = false;
                        break;
                    }
                }
                if (all) {
                    island.add(j);
                    taken[j] = true;
                }
            }
            result.add(island.stream().mapToInt(Integer::intValue).toArray());
        }
        return result;
    }

    /** The same devices with every P2P link turned off: all traffic staged through host memory. */
    public Topology withoutP2p() {
        int n = size();
        Link[][] m = new Link[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                m[i][j] = links[i][j].withoutP2p();
            }
        }
        return new Topology(name + " (p2p off)", deviceNames, m);
    }

    /** The topology among a subset of these devices; rank k of the result is ranks[k] here. */
    public Topology subset(int... ranks) {
        Link[][] m = new Link[ranks.length][ranks.length];
        List<String> names = new ArrayList<>();
        for (int i = 0; i < ranks.length; i++) {
            names.add(deviceNames.get(ranks[i]));
            for (int j = 0; j < ranks.length; j++) {
                m[i][j] = links[ranks[i]][ranks[j]];
            }
        }
        return new Topology(name + Arrays.toString(ranks), names, m);
    }

    /** Replaces one link (e.g. with measured bandwidth). */
    public Topology withLink(int from, int to, Link link) {
        Link[][] m = new Link[size()][];
        for (int i = 0; i < size(); i++) {
            m[i] = links[i].clone();
        }
        m[from][to] = link;
        return new Topology(name, deviceNames, m);
    }

    /** A key that identifies the connectivity (not the measurements), for caching plans. */
    public String connectivityKey() {
        StringBuilder sb = new StringBuilder().append(size()).append(':');
        for (int i = 0; i < size(); i++) {
            for (int j = 0; j < size(); j++) {
                sb.append(p2p(i, j) ? links[i][j].label() : "-").append(',');
            }
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return "Topology[" + name + ", " + size() + " devices]";
    }
}
