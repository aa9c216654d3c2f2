package io.cohort.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TopologyRendererTest {

    @Test
    void nvlinkPairLooksLikeNvidiaSmi() {
        String out = TopologyRenderer.render(TopologyFiles.load("nvlink-2"));
        List<String> lines = out.lines().toList();
        assertEquals("Topology nvlink-2: 2 devices, fully connected", lines.get(0));
        assertEquals("       GPU0   GPU1", lines.get(1));
        assertEquals("GPU0   X      NV18", lines.get(2));
        assertEquals("GPU1   NV18   X", lines.get(3));
        assertTrue(out.contains("P2P    GPU0   GPU1\nGPU0   X      yes\nGPU1   yes    X\n"), out);
        assertTrue(out.contains("GB/s   GPU0   GPU1\nGPU0   X      478\n"), out);
        assertTrue(out.contains("Islands (P2P between every pair): [GPU0 GPU1]"), out);
        assertTrue(out.contains("GPU0 = NVIDIA H200 #0"), out);
        assertTrue(out.contains("NV#  = NVLink"), out);
    }

    @Test
    void islandsShowSysAndNoWhereThereIsNoP2p() {
        String out = TopologyRenderer.render(TopologyFiles.load("islands-8"));
        List<String> lines = out.lines().toList();
        assertEquals("GPU3   NV18   NV18   NV18   X      SYS    SYS    SYS    SYS", lines.get(5));
        for (int i = 0; i < 8; i++) {
            String[] cells = lines.get(2 + i).trim().split("\\s+");
            assertEquals("X", cells[1 + i], "diagonal of row " + i);
        }
        assertTrue(out.contains("GPU4   no     no     no     no     X      yes    yes    yes"), out);
        assertTrue(out.contains("[GPU0 GPU1 GPU2 GPU3] [GPU4 GPU5 GPU6 GPU7]"), out);
        assertTrue(!out.contains("GB/s   GPU0"), "no bandwidth matrix when none is known");
    }

    @Test
    void noP2pUsesPhbAndPartialMixes() {
        assertTrue(TopologyRenderer.render(TopologyFiles.load("nop2p-4")).contains("GPU0   X      PHB    PHB    PHB"));
        String partial = TopologyRenderer.render(TopologyFiles.load("partial-4"));
        assertTrue(partial.contains("GPU1   NV4    X      NV4    SYS"), partial);
    }
}
