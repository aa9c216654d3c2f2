package io.cohort.cuda.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.Gpu;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("gpu")
class CudaTopologyTest {

    @Test
    void ranksOnOneDeviceAreSelfLinked() {
        CudaDevice d = Gpu.device();
        Topology t = new CudaTopologyDetector(true, 8 << 20).detect(List.of(d, d, d));
        assertEquals(3, t.size());
        assertTrue(t.fullyConnected());
        assertEquals(LinkKind.SELF, t.link(0, 2).kind());
        assertEquals(1, t.islands().size());
    }

    @Test
    void nvmlReportsTheDevicesLinks() {
        CudaDevice d = Gpu.device();
        Nvml.LinkReport r = CudaTopologyDetector.nvLinks(d);
        System.out.println(d.name() + " NVML present: " + Nvml.load().isPresent() + ", active NVLinks " + r.activeLinks()
                + " (" + r.switchLinks() + " to NVSwitches), direct peers " + r.linksToPeer());
        assertTrue(r.activeLinks() >= 0 && r.activeLinks() <= Nvml.MAX_LINKS);
    }

    @Test
    void everyPairOfRealDevicesIsClassifiedAndMeasured() {
        Gpu.device();
        List<CudaDevice> all = CudaDevices.openAll();
        Topology t = new CudaTopologyDetector(true, 16 << 20).detect(all);
        for (int i = 0; i < t.size(); i++) {
            for (int j = 0; j < t.size(); j++) {
                Link l = t.link(i, j);
                System.out.println(i + " -> " + j + ": " + l.label() + " p2p=" + l.p2p() + " rank=" + l.performanceRank()
                        + " " + l.bandwidthGBps() + " GB/s " + l.latencyUs() + " us");
                if (i != j && l.p2p()) {
                    assertTrue(l.bandwidthGBps() > 0 && l.latencyUs() > 0);
                    var attr = CudaTopologyDetector.attributes(all.get(i), all.get(j));
                    assertTrue(attr.access());
                }
            }
        }
    }
}
