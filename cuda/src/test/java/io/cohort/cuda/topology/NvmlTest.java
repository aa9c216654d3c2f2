package io.cohort.cuda.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** PCI address matching behind the NVLink counts (no GPU needed). */
class NvmlTest {

    @Test
    void pciKeysMatchAcrossCudaAndNvmlFormats() {
        assertEquals(Nvml.pciKey("0000:18:00.0"), Nvml.pciKey("00000000:18:00.0"));
        assertEquals(Nvml.pciKey(0, 0x18, 0), Nvml.pciKey("0000:18:00.0"));
        assertNotEquals(Nvml.pciKey("0000:18:00.0"), Nvml.pciKey("0000:19:00.0"));
        assertThrows(IllegalArgumentException.class, () -> Nvml.pciKey("gpu0"));
    }

    @Test
    void directLinksWinOverSwitchLinks() {
        Nvml.LinkReport a = new Nvml.LinkReport(18, 0, Map.of(Nvml.pciKey("0000:19:00.0"), 18));
        Nvml.LinkReport b = new Nvml.LinkReport(18, 0, Map.of(Nvml.pciKey("0000:18:00.0"), 18));
        assertEquals(18, a.linksTo("0000:19:00.0", b));
        assertEquals(0, a.linksTo("0000:20:00.0", b));
        Nvml.LinkReport s1 = new Nvml.LinkReport(18, 18, Map.of());
        Nvml.LinkReport s2 = new Nvml.LinkReport(12, 12, Map.of());
        assertEquals(12, s1.linksTo("0000:20:00.0", s2), "through NVSwitches: the fewer links of the two");
    }
}
