package io.cohort.backend;

import java.util.Locale;

/** Backends a group can be created with. */
public enum BackendKind {
    /** Detect the topology, then pick: p2p where the group's links allow, else native (nccl if configured). */
    AUTO,
    /** Direct device-to-device memory access over NVLink/PCIe P2P (host devices: shared memory). */
    P2P,
    /** Staging through host (shared) memory; works on any multi-device box and across processes. */
    NATIVE,
    /** NVIDIA's NCCL through java.lang.foreign. */
    NCCL;

    private final String cliName = name().toLowerCase(Locale.ROOT);   // asked per collective (JFR events)

    public String cliName() {
        return cliName;
    }

    public static BackendKind parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown backend '" + name + "' (expected auto, p2p, native or nccl)");
        }
    }
}
