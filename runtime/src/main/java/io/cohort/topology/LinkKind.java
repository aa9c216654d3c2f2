package io.cohort.topology;

/** How two devices are connected, best first. */
public enum LinkKind {
    /** The same device. */
    SELF("X"),
    /** NVLink (count of links in {@link Link#linkCount()}). */
    NVLINK("NV"),
    /** Host devices in one process: both see the same memory. */
    SHARED_MEMORY("SHM"),
    /** PCIe through a switch or the root complex. */
    PCIE("PIX"),
    /** No direct path: traffic is staged through host memory. */
    HOST_STAGED("SYS");

    private final String label;

    LinkKind(String label) {
        this.label = label;
    }

    /** Short label in the style of {@code nvidia-smi topo -m}. */
    public String label() {
        return label;
    }
}
