package io.cohort.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.device.Device;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import java.time.Duration;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TopologyDetectorTest {

    /** A device that only has a name and a fixed set of peers it can reach. */
    static Device device(String name, Set<String> peers) {
        return (Device) Proxy.newProxyInstance(Device.class.getClassLoader(), new Class<?>[] {Device.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name", "toString" -> name;
                    case "canAccessPeer" -> peers.contains(((Device) args[0]).name());
                    case "hashCode" -> name.hashCode();
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void fileDetectorChecksTheDeviceCountAndUsesTheGroupsNames() {
        TopologyFileDetector detector = new TopologyFileDetector(TopologyFiles.file("nvlink-2"));
        Topology t = detector.detect(List.of(device("cuda:0", Set.of()), device("cuda:1", Set.of())));
        assertEquals(List.of("cuda:0", "cuda:1"), t.deviceNames());
        assertEquals("NV18", t.link(0, 1).label());
        String error = assertThrows(TopologyException.class, () -> detector.detect(List.of(device("cuda:0", Set.of()))))
                .getMessage();
        assertTrue(error.contains("declares 2 devices but the group has 1"), error);
    }

    @Test
    void configurationChoosesAFileOrTheDetectedTopology() {
        TopologyDetector host = new HostTopologyDetector();
        assertSame(host, TopologyFileDetector.fromConfig(com.typesafe.config.ConfigFactory.defaultReference(), host));
        TopologyDetector file = TopologyFileDetector.fromConfig(com.typesafe.config.ConfigFactory.parseString(
                "cohort.topology.file = \"" + TopologyFiles.file("partial-4").toString().replace("\\", "/") + "\""), host);
        assertEquals("partial-4", ((TopologyFileDetector) file).declared().name());
    }

    @Test
    void hostDetectorLinksDevicesThatShareMemory() {
        Device a = device("host:0", Set.of("host:1"));
        Device b = device("host:1", Set.of("host:0"));
        Device c = device("host:2", Set.of());
        Topology t = new HostTopologyDetector().detect(List.of(a, b, c));
        assertEquals("SHM", t.link(0, 1).label());
        assertTrue(t.p2p(1, 0));
        assertFalse(t.p2p(0, 2));
        assertEquals(LinkKind.HOST_STAGED, t.link(2, 1).kind());
        assertTrue(TopologyValidation.problems(t, false).isEmpty());
        assertThrows(IllegalArgumentException.class, () -> new HostTopologyDetector(true, 16));
    }

    @Test
    void hostDetectorMeasuresRealHostDevicesWhenAsked() {
        List<HostDevice> devices = HostDevices.open(2, new HostDevice.Options(16L << 20, Duration.ofSeconds(10)));
        try {
            Topology plain = new HostTopologyDetector().detect(devices);
            assertTrue(plain.fullyConnected());
            assertTrue(Double.isNaN(plain.link(0, 1).bandwidthGBps()));
            Topology measured = new HostTopologyDetector(true, 1 << 20).detect(devices);
            Link l = measured.link(0, 1);
            assertEquals(LinkKind.SHARED_MEMORY, l.kind());
            assertTrue(l.bandwidthGBps() > 0 && Double.isFinite(l.bandwidthGBps()), l.toString());
            assertTrue(l.latencyUs() > 0 && Double.isFinite(l.latencyUs()), l.toString());
            assertTrue(TopologyRenderer.render(measured).contains("GB/s   GPU0"));
        } finally {
            HostDevices.closeAll(devices);
        }
    }
}
