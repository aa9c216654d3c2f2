package io.cohort.group;

import io.cohort.device.Device;
import io.cohort.device.DeviceKind;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyDetector;
import java.util.List;

/**
 * The topology {@link LocalGroup} falls back to when the devices' kind has no detector of its own: host
 * devices share memory (SHM links, P2P everywhere); other devices get P2P where {@link Device#canAccessPeer}
 * says so (kind PCIE, no measurements) and host staging elsewhere.
 */
public final class PeerAccessDetector implements TopologyDetector {

    @Override
    public Topology detect(List<? extends Device> devices) {
        int n = devices.size();
        List<String> names = devices.stream().map(Device::name).toList();
        boolean allHost = devices.stream().allMatch(d -> d.kind() == DeviceKind.HOST);
        if (allHost) {
            return Topology.uniform("host shared memory", names,
                    new Link(true, LinkKind.SHARED_MEMORY, 0, 0, Double.NaN, Double.NaN));
        }
        Link[][] links = new Link[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i == j) {
                    links[i][j] = Link.self();
                } else if (devices.get(i).canAccessPeer(devices.get(j))) {
                    links[i][j] = new Link(true, LinkKind.PCIE, 0, -1, Double.NaN, Double.NaN);
                } else {
                    links[i][j] = new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN);
                }
            }
        }
        return new Topology("peer access", names, links);
    }
}
