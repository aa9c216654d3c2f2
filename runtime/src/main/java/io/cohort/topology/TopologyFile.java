package io.cohort.topology;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads and writes topology files: HOCON with one {@code topology} block (see docs/topology.md).
 *
 * <pre>{@code
 * topology {
 *   name = "islands-8"
 *   devices = 8                       # a count (names gpu0..) or a list of names
 *   default-link { kind = SYS }       # every pair not set below
 *   matrix = [                        # optional, like `nvidia-smi topo -m`: one row per device
 *     "X NV18 ..."                    # (a leading "GPU0" label, as nvidia-smi prints it, is allowed)
 *   ]
 *   labels { NV18 { bandwidth-gbps = 478 } }   # optional numbers for matrix cells of a label
 *   links = [                         # optional, applied in order after default-link and matrix
 *     { pairs = [[0, 1], [1, 2]], kind = nvlink, nvlinks = 4 }     # both directions
 *     { islands = [[0, 1, 2, 3], [4, 5, 6, 7]], kind = NV18 }     # every pair inside each group
 *     { between = [[0, 1, 2, 3], [4, 5, 6, 7]], kind = pcie, p2p = false }  # every pair across groups
 *     { from = 0, to = 1, bandwidth-gbps = 40 }                    # one direction (see asymmetric)
 *   ]
 *   asymmetric = false                # true allows different kind/P2P per direction
 * }
 * }</pre>
 *
 * A link is {@code kind} (nvlink, shared-memory, pcie, host-staged, or a label NV#, SHM, PIX, PXB, PHB,
 * NODE, SYS), {@code nvlinks}, {@code p2p} (default: true except for PHB, NODE, SYS and host-staged),
 * {@code perf-rank} (default -1, unknown), {@code bandwidth-gbps} and {@code latency-us} (default unknown).
 * Keys an entry leaves out keep the value the link had before, so an entry may change only a number.
 */
public final class TopologyFile {

    private TopologyFile() {
    }

    /** Reads the topology file at {@code path}. */
    public static Topology read(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new TopologyException("topology file " + path + " does not exist");
        }
        try {
            Config config = ConfigFactory.parseFile(path.toFile(),
                    ConfigParseOptions.defaults().setSyntax(ConfigSyntax.CONF).setAllowMissing(false)).resolve();
            return parse(config, path.toString());
        } catch (ConfigException e) {
            throw new TopologyException("topology file " + path + ": " + e.getMessage(), e);
        }
    }

    /** Reads a topology from HOCON text; {@code origin} names it in errors. */
    public static Topology parse(String text, String origin) {
        try {
            return parse(ConfigFactory.parseString(text).resolve(), origin);
        } catch (ConfigException e) {
            throw new TopologyException("topology " + origin + ": " + e.getMessage(), e);
        }
    }

    /** Reads the {@code topology} block of {@code root}. */
    public static Topology parse(Config root, String origin) {
        if (!root.hasPath("topology")) {
            throw new TopologyException("topology " + origin + ": no 'topology { ... }' block");
        }
        Config t = root.getConfig("topology");
        String where = "topology " + origin;
        String name = t.hasPath("name") ? t.getString("name") : origin;
        List<String> devices = devices(t, where);
        int n = devices.size();
        Link[][] m = new Link[n][n];
        Link fallback = t.hasPath("default-link")
                ? link(t.getConfig("default-link"), new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN),
                        where + " default-link")
                : new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                m[i][j] = i == j ? Link.self() : fallback;
            }
        }
        if (t.hasPath("matrix")) {
            applyMatrix(t, m, where);
        }
        if (t.hasPath("links")) {
            List<? extends Config> entries = t.getConfigList("links");
            for (int e = 0; e < entries.size(); e++) {
                applyEntry(entries.get(e), m, where + " links[" + e + "]");
            }
        }
        boolean asymmetric = t.hasPath("asymmetric") && t.getBoolean("asymmetric");
        try {
            return TopologyValidation.validate(new Topology(name, devices, m), asymmetric);
        } catch (TopologyException e) {
            throw new TopologyException(where + ": " + e.getMessage(), e);
        }
    }

    private static List<String> devices(Config t, String where) {
        if (!t.hasPath("devices")) {
            throw new TopologyException(where + ": 'devices' is missing (a count or a list of names)");
        }
        List<String> out = new ArrayList<>();
        if (t.getValue("devices").valueType() == ConfigValueType.NUMBER) {
            int n = t.getInt("devices");
            if (n < 1) {
                throw new TopologyException(where + ": devices = " + n + " (need at least 1)");
            }
            for (int i = 0; i < n; i++) {
                out.add("gpu" + i);
            }
        } else {
            out.addAll(t.getStringList("devices"));
            if (out.isEmpty()) {
                throw new TopologyException(where + ": the device list is empty");
            }
        }
        return out;
    }

    private static void applyMatrix(Config t, Link[][] m, String where) {
        int n = m.length;
        List<String> rows = t.getStringList("matrix");
        Config labels = t.hasPath("labels") ? t.getConfig("labels") : ConfigFactory.empty();
        if (rows.size() != n) {
            throw new TopologyException(where + ": matrix has " + rows.size() + " rows for " + n + " devices");
        }
        for (int i = 0; i < n; i++) {
            String[] cells = rows.get(i).trim().split("\\s+");
            if (cells.length == n + 1 && cells[0].matches("(?i)GPU\\d+")) {
                // pasted from nvidia-smi topo -m: the row starts with its device label
                cells = java.util.Arrays.copyOfRange(cells, 1, cells.length);
            }
            if (cells.length != n) {
                throw new TopologyException(where + ": matrix row " + i + " has " + cells.length + " entries for "
                        + n + " devices: '" + rows.get(i) + "'");
            }
            for (int j = 0; j < n; j++) {
                String cell = cells[j];
                String at = where + " matrix[" + i + "][" + j + "]";
                if (i == j) {
                    if (!cell.equals("X")) {
                        throw new TopologyException(at + " is '" + cell + "': the diagonal must be X");
                    }
                    continue;
                }
                Link link = fromLabel(cell, at);
                String key = com.typesafe.config.ConfigUtil.quoteString(cell);
                if (labels.hasPath(key)) {
                    link = link(labels.getConfig(key), link, where + " labels." + cell);
                }
                m[i][j] = link;
            }
        }
    }

    private static void applyEntry(Config e, Link[][] m, String where) {
        int n = m.length;
        List<int[]> directed = new ArrayList<>();
        int forms = 0;
        if (e.hasPath("pairs")) {
            forms++;
            for (List<Integer> pair : intLists(e, "pairs", where)) {
                if (pair.size() != 2) {
                    throw new TopologyException(where + ": a pair needs two devices, got " + pair);
                }
                directed.add(new int[] {pair.get(0), pair.get(1)});
                directed.add(new int[] {pair.get(1), pair.get(0)});
            }
        }
        if (e.hasPath("islands")) {
            forms++;
            for (List<Integer> group : intLists(e, "islands", where)) {
                for (int a : group) {
                    for (int b : group) {
                        if (a != b) {
                            directed.add(new int[] {a, b});
                        }
                    }
                }
            }
        }
        if (e.hasPath("between")) {
            forms++;
            List<List<Integer>> groups = intLists(e, "between", where);
            for (int g = 0; g < groups.size(); g++) {
                for (int h = 0; h < groups.size(); h++) {
                    if (g != h) {
                        for (int a : groups.get(g)) {
                            for (int b : groups.get(h)) {
                                directed.add(new int[] {a, b});
                            }
                        }
                    }
                }
            }
        }
        if (e.hasPath("from") || e.hasPath("to")) {
            forms++;
            if (!e.hasPath("from") || !e.hasPath("to")) {
                throw new TopologyException(where + ": 'from' and 'to' go together");
            }
            directed.add(new int[] {e.getInt("from"), e.getInt("to")});
        }
        if (forms != 1) {
            throw new TopologyException(where + ": give exactly one of pairs, islands, between or from/to");
        }
        for (int[] d : directed) {
            for (int rank : d) {
                if (rank < 0 || rank >= n) {
                    throw new TopologyException(where + ": device " + rank + " outside 0.." + (n - 1));
                }
            }
            if (d[0] == d[1]) {
                throw new TopologyException(where + ": a link from device " + d[0] + " to itself");
            }
            m[d[0]][d[1]] = link(e, m[d[0]][d[1]], where);
        }
    }

    private static List<List<Integer>> intLists(Config e, String key, String where) {
        try {
            List<List<Integer>> out = new ArrayList<>();
            for (Object o : e.getList(key).unwrapped()) {
                List<Integer> ints = new ArrayList<>();
                for (Object x : (List<?>) o) {
                    ints.add(((Number) x).intValue());
                }
                out.add(ints);
            }
            return out;
        } catch (ClassCastException ex) {
            throw new TopologyException(where + ": '" + key + "' must be a list of lists of device numbers");
        }
    }

    /** {@code base} with the keys present in {@code c} applied. */
    static Link link(Config c, Link base, String where) {
        Link l = base;
        if (c.hasPath("kind")) {
            Link k = fromLabel(c.getString("kind"), where);
            l = new Link(k.p2p(), k.kind(), k.linkCount(), l.performanceRank(), l.bandwidthGBps(), l.latencyUs());
        }
        int nvlinks = c.hasPath("nvlinks") ? c.getInt("nvlinks") : l.linkCount();
        boolean p2p = c.hasPath("p2p") ? c.getBoolean("p2p") : l.p2p();
        int rank = c.hasPath("perf-rank") ? c.getInt("perf-rank") : l.performanceRank();
        double bw = c.hasPath("bandwidth-gbps") ? c.getDouble("bandwidth-gbps") : l.bandwidthGBps();
        double lat = c.hasPath("latency-us") ? c.getDouble("latency-us") : l.latencyUs();
        return new Link(p2p, l.kind(), nvlinks, rank, bw, lat);
    }

    /**
     * A link from a kind name or an {@code nvidia-smi topo -m} label: NV# (NVLink, # links), SHM, PIX / PXB
     * (PCIe with P2P), PHB / NODE (PCIe through the host bridge, no P2P), SYS (staged through host memory).
     */
    static Link fromLabel(String label, String where) {
        String s = label.trim().toUpperCase(Locale.ROOT).replace('_', '-');
        if (s.startsWith("NV") && s.length() > 2 && s.substring(2).chars().allMatch(Character::isDigit)) {
            return new Link(true, LinkKind.NVLINK, Integer.parseInt(s.substring(2)), -1, Double.NaN, Double.NaN);
        }
        return switch (s) {
            case "NVLINK" -> new Link(true, LinkKind.NVLINK, 1, -1, Double.NaN, Double.NaN);
            case "SHM", "SHARED-MEMORY" -> new Link(true, LinkKind.SHARED_MEMORY, 0, -1, Double.NaN, Double.NaN);
            case "PIX", "PXB", "PCIE" -> new Link(true, LinkKind.PCIE, 0, -1, Double.NaN, Double.NaN);
            case "PHB", "NODE" -> new Link(false, LinkKind.PCIE, 0, -1, Double.NaN, Double.NaN);
            case "SYS", "HOST-STAGED", "STAGED" -> new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN);
            default -> throw new TopologyException(where + ": unknown link kind '" + label + "' (expected nvlink, "
                    + "shared-memory, pcie, host-staged or a label NV#, SHM, PIX, PXB, PHB, NODE, SYS)");
        };
    }

    /** Writes {@code topology} as a topology file that {@link #read} turns back into the same links. */
    public static String write(Topology topology) {
        int n = topology.size();
        Map<Link, Integer> frequency = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i != j) {
                    frequency.merge(topology.link(i, j), 1, Integer::sum);
                }
            }
        }
        Link fallback = frequency.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey)
                .orElse(new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN));
        boolean asymmetric = !TopologyValidation.problems(topology, false).isEmpty();
        Map<Link, List<String>> pairs = new LinkedHashMap<>();
        List<String> directed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                Link ij = topology.link(i, j);
                Link ji = topology.link(j, i);
                if (ij.equals(fallback) && ji.equals(fallback)) {
                    continue;
                }
                if (ij.equals(ji)) {
                    pairs.computeIfAbsent(ij, k -> new ArrayList<>()).add("[" + i + ", " + j + "]");
                } else {
                    if (!ij.equals(fallback)) {
                        directed.add("    { from = " + i + ", to = " + j + ", " + spec(ij) + " }");
                    }
                    if (!ji.equals(fallback)) {
                        directed.add("    { from = " + j + ", to = " + i + ", " + spec(ji) + " }");
                    }
                }
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append("# written by Cohort (TopologyFile.write)\n");
        sb.append("topology {\n");
        sb.append("  name = ").append(com.typesafe.config.ConfigUtil.quoteString(topology.name())).append('\n');
        sb.append("  devices = [");
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : ", ").append(com.typesafe.config.ConfigUtil.quoteString(topology.deviceNames().get(i)));
        }
        sb.append("]\n");
        sb.append("  default-link { ").append(spec(fallback)).append(" }\n");
        if (!pairs.isEmpty() || !directed.isEmpty()) {
            sb.append("  links = [\n");
            pairs.forEach((link, list) -> sb.append("    { pairs = [").append(String.join(", ", list)).append("], ")
                    .append(spec(link)).append(" }\n"));
            directed.forEach(d -> sb.append(d).append('\n'));
            sb.append("  ]\n");
        }
        if (asymmetric) {
            sb.append("  asymmetric = true\n");
        }
        sb.append("}\n");
        return sb.toString();
    }

    /** Every field of {@code link}, so reading it back needs no defaults. */
    private static String spec(Link l) {
        String kind = switch (l.kind()) {
            case NVLINK -> "nvlink";
            case SHARED_MEMORY -> "shared-memory";
            case PCIE -> "pcie";
            case HOST_STAGED, SELF -> "host-staged";
        };
        StringBuilder sb = new StringBuilder("kind = ").append(kind);
        if (l.kind() == LinkKind.NVLINK) {
            sb.append(", nvlinks = ").append(l.linkCount());
        }
        sb.append(", p2p = ").append(l.p2p()).append(", perf-rank = ").append(l.performanceRank());
        if (!Double.isNaN(l.bandwidthGBps())) {
            sb.append(", bandwidth-gbps = ").append(l.bandwidthGBps());
        }
        if (!Double.isNaN(l.latencyUs())) {
            sb.append(", latency-us = ").append(l.latencyUs());
        }
        return sb.toString();
    }

    /** Writes {@code topology} to {@code path}. */
    public static void write(Topology topology, Path path) {
        try {
            Files.writeString(path, write(topology));
        } catch (IOException e) {
            throw new TopologyException("cannot write topology file " + path + ": " + e.getMessage(), e);
        }
    }
}
