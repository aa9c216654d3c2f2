package io.cohort.topology;

/**
 * The connection from one device to another, as detected or declared.
 *
 * @param p2p             whether the source device can access the target's memory directly
 * @param kind            physical link kind
 * @param linkCount       number of NVLinks (0 for other kinds)
 * @param performanceRank CUDA's P2P performance rank (0 best); -1 when unknown
 * @param bandwidthGBps   measured or declared bandwidth in GB/s per direction; NaN when unknown
 * @param latencyUs       measured or declared latency of a small copy in microseconds; NaN when unknown
 */
public record Link(boolean p2p, LinkKind kind, int linkCount, int performanceRank, double bandwidthGBps,
                   double latencyUs) {

    public static Link self() {
        return new Link(true, LinkKind.SELF, 0, 0, Double.NaN, Double.NaN);
    }

    /** Same link with P2P turned off: what the native backend plans with. */
    public Link withoutP2p() {
        return kind == LinkKind.SELF ? this : new Link(false, LinkKind.HOST_STAGED, 0, -1, bandwidthGBps, latencyUs);
    }

    public Link withMeasurement(double bandwidthGBps, double latencyUs) {
        return new Link(p2p, kind, linkCount, performanceRank, bandwidthGBps, latencyUs);
    }

    /**
     * Label for the topology matrix, in the style of {@code nvidia-smi topo -m}: X, NV18, SHM, PIX (PCIe with
     * P2P), PHB (PCIe without P2P: staged through the host), SYS (no direct path).
     */
    public String label() {
        return switch (kind) {
            case NVLINK -> "NV" + linkCount;
            case PCIE -> p2p ? "PIX" : "PHB";
            default -> kind.label();
        };
    }
}
