package io.cohort.topology;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import java.util.List;

/**
 * Topology of host devices in one process: every pair that can reach the other's memory is
 * {@link LinkKind#SHARED_MEMORY} with P2P, any other pair host-staged. Optionally measures each pair's copy
 * bandwidth and latency (off by default: it allocates and copies {@code probeBytes} per pair, which costs
 * time at startup and says little on a shared CI machine).
 */
public final class HostTopologyDetector implements TopologyDetector {

    private static final int PROBE_ROUNDS = 3;
    private static final long LATENCY_PROBE_BYTES = 4096;

    private final boolean measure;
    private final long probeBytes;

    /** Without measurements. */
    public HostTopologyDetector() {
        this(false, 0);
    }

    /** With {@code measure}, copies {@code probeBytes} between each ordered pair (best of 3) for the bandwidth. */
    public HostTopologyDetector(boolean measure, long probeBytes) {
        if (measure && probeBytes < LATENCY_PROBE_BYTES) {
            throw new IllegalArgumentException("probe of " + probeBytes + " bytes is too small to time");
        }
        this.measure = measure;
        this.probeBytes = probeBytes;
    }

    @Override
    public Topology detect(List<? extends Device> devices) {
        int n = devices.size();
        Link[][] links = new Link[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                Device from = devices.get(i);
                Device to = devices.get(j);
                if (i == j) {
                    links[i][j] = Link.self();
                } else if (from.canAccessPeer(to)) {
                    links[i][j] = new Link(true, LinkKind.SHARED_MEMORY, 0, 0, Double.NaN, Double.NaN);
                } else {
                    links[i][j] = new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN);
                }
                if (measure && i != j && links[i][j].p2p()) {
                    links[i][j] = links[i][j].withMeasurement(bandwidthGBps(from, to, probeBytes),
                            latencyUs(from, to));
                }
            }
        }
        return new Topology("host", devices.stream().map(Device::name).toList(), links);
    }

    /** GB/s of copies from {@code to}'s memory into {@code from}'s, enqueued on {@code from}'s stream. */
    private static double bandwidthGBps(Device from, Device to, long bytes) {
        return bytes / (bestSeconds(from, to, bytes) * 1e9);
    }

    private static double latencyUs(Device from, Device to) {
        return bestSeconds(from, to, LATENCY_PROBE_BYTES) * 1e6;
    }

    private static double bestSeconds(Device from, Device to, long bytes) {
        DeviceBuffer src = to.allocate(bytes);
        DeviceBuffer dst = from.allocate(bytes);
        try (DeviceStream stream = from.createStream()) {
            stream.zero(src, 0, bytes);
            stream.copy(src, 0, dst, 0, bytes); // warm up (page faults, lazy mappings)
            stream.synchronize();
            double best = Double.POSITIVE_INFINITY;
            for (int round = 0; round < PROBE_ROUNDS; round++) {
                long start = System.nanoTime();
                stream.copy(src, 0, dst, 0, bytes);
                stream.synchronize();
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
            }
            return Math.max(best, 1e-9);
        } finally {
            from.free(dst);
            to.free(src);
        }
    }
}
