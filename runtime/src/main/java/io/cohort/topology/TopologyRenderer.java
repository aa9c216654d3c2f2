package io.cohort.topology;

import java.util.Arrays;
import java.util.function.BiFunction;
import java.util.stream.Collectors;

/**
 * Prints a topology like {@code nvidia-smi topo -m}: the link matrix (X, NV#, SHM, PIX, PHB, SYS), then
 * the P2P matrix, performance ranks, bandwidth and latency where known, the islands and a legend. What
 * {@code cohort topo} shows.
 */
public final class TopologyRenderer {

    private static final int CELL = 7;

    private TopologyRenderer() {
    }

    public static String render(Topology t) {
        int n = t.size();
        StringBuilder sb = new StringBuilder();
        sb.append("Topology ").append(t.name()).append(": ").append(n).append(n == 1 ? " device" : " devices")
                .append(t.fullyConnected() ? ", fully connected" : "").append('\n');
        matrix(sb, "", t, (i, j) -> t.link(i, j).label());
        sb.append('\n');
        matrix(sb, "P2P", t, (i, j) -> i.equals(j) ? "X" : t.p2p(i, j) ? "yes" : "no");
        if (any(t, (i, j) -> t.link(i, j).performanceRank() >= 0)) {
            sb.append('\n');
            matrix(sb, "Rank", t, (i, j) -> i.equals(j) ? "X" : t.link(i, j).performanceRank() < 0 ? "-"
                    : Integer.toString(t.link(i, j).performanceRank()));
        }
        if (any(t, (i, j) -> !Double.isNaN(t.link(i, j).bandwidthGBps()))) {
            sb.append('\n');
            matrix(sb, "GB/s", t, (i, j) -> i.equals(j) ? "X" : number(t.link(i, j).bandwidthGBps()));
        }
        if (any(t, (i, j) -> !Double.isNaN(t.link(i, j).latencyUs()))) {
            sb.append('\n');
            matrix(sb, "us", t, (i, j) -> i.equals(j) ? "X" : number(t.link(i, j).latencyUs()));
        }
        sb.append('\n').append("Islands (P2P between every pair): ").append(t.islands().stream()
                .map(is -> Arrays.stream(is).mapToObj(i -> "GPU" + i).collect(Collectors.joining(" ", "[", "]")))
                .collect(Collectors.joining(" "))).append('\n');
        sb.append("Devices:");
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? " " : ", ").append("GPU").append(i).append(" = ").append(t.deviceNames().get(i));
        }
        sb.append("\n\nLegend:\n")
                .append("  X    = Self\n")
                .append("  NV#  = NVLink with # links (P2P)\n")
                .append("  SHM  = host devices in one process sharing memory (P2P)\n")
                .append("  PIX  = PCIe with P2P\n")
                .append("  PHB  = PCIe through the host bridge without P2P (staged through host memory)\n")
                .append("  SYS  = no direct path: staged through pinned host memory\n")
                .append("  Rank = CUDA P2P performance rank (0 best), GB/s and us = per direction, '-' unknown\n");
        return sb.toString();
    }

    /** One matrix with a header row; cells padded to a fixed width, no trailing blanks. */
    private static void matrix(StringBuilder sb, String title, Topology t, BiFunction<Integer, Integer, String> cell) {
        int n = t.size();
        StringBuilder line = new StringBuilder(pad(title, CELL));
        for (int j = 0; j < n; j++) {
            line.append(pad("GPU" + j, CELL));
        }
        sb.append(line.toString().stripTrailing()).append('\n');
        for (int i = 0; i < n; i++) {
            line.setLength(0);
            line.append(pad("GPU" + i, CELL));
            for (int j = 0; j < n; j++) {
                line.append(pad(cell.apply(i, j), CELL));
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
    }

    private static boolean any(Topology t, BiFunction<Integer, Integer, Boolean> test) {
        for (int i = 0; i < t.size(); i++) {
            for (int j = 0; j < t.size(); j++) {
                if (i != j && test.apply(i, j)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String number(double v) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return v == Math.rint(v) ? Long.toString((long) v) : String.format(java.util.Locale.ROOT, "%.1f", v);
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s + " " : s + " ".repeat(width - s.length());
    }
}
