package io.cohort.topology;

/**
 * Rough per-link bandwidth for route choices when a link carries no measurement. The numbers only rank links
 * against each other (NVLink over PCIe over host staging); measured values in {@link Link#bandwidthGBps()}
 * always win.
 */
public final class LinkPerformance {

    /** Per-direction bandwidth of one NVLink 4 link (H100/H200: 18 links, ~450 GB/s). */
    public static final double NVLINK_PER_LINK_GBPS = 25.0;
    /** PCIe Gen4 x16 peer-to-peer, per direction. */
    public static final double PCIE_P2P_GBPS = 24.0;
    /** Copies between host devices of one process (memory bandwidth of one core, roughly). */
    public static final double SHARED_MEMORY_GBPS = 20.0;
    /** Device -> pinned host -> device: two PCIe hops, so about half of one. */
    public static final double HOST_STAGED_GBPS = 12.0;

    private LinkPerformance() {
    }

    /**
     * Bandwidth in GB/s that data moving from {@code link}'s target to its source can expect: the measured
     * or declared value, else an estimate by kind. Without P2P, data is staged through host memory, which
     * costs at least a second copy.
     */
    public static double estimatedBandwidthGBps(Link link) {
        if (link.kind() == LinkKind.SELF) {
            return Double.POSITIVE_INFINITY;
        }
        if (!Double.isNaN(link.bandwidthGBps()) && link.bandwidthGBps() > 0) {
            return link.p2p() ? link.bandwidthGBps() : link.bandwidthGBps() / 2;
        }
        if (!link.p2p()) {
            return HOST_STAGED_GBPS;
        }
        return switch (link.kind()) {
            case NVLINK -> NVLINK_PER_LINK_GBPS * Math.max(1, link.linkCount());
            case SHARED_MEMORY -> SHARED_MEMORY_GBPS;
            case PCIE -> PCIE_P2P_GBPS;
            case HOST_STAGED, SELF -> HOST_STAGED_GBPS;
        };
    }

    /** Seconds per gigabyte over {@code link}: the cost the planners minimise. */
    public static double costPerGB(Link link) {
        return 1.0 / estimatedBandwidthGBps(link);
    }
}
