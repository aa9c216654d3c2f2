package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.core.CohortException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class TransportConfigTest {

    @Test
    void defaultsComeFromTheBundledFile() {
        TransportConfig c = TransportConfig.defaults();
        assertEquals(TransportConfig.Channel.IPC, c.channel());
        assertEquals(1, c.size());
        assertEquals(4 << 20, c.termLength());
        assertTrue(c.embeddedDriver());
        assertTrue(c.startsDriver());
        assertEquals(Duration.ofSeconds(30), c.progressTimeout());
    }

    @Test
    void applicationSettingsOverrideDefaults() {
        TransportConfig c = TransportConfig.from(ConfigFactory.parseString("""
                cohort.transport { group = "job 7", rank = 1, size = 2, channel = udp,
                  endpoints = ["10.0.0.1:40100", "10.0.0.2:40100"], term-length = 16m, base-dir = "/tmp/x" }
                """));
        assertEquals(1, c.rank());
        assertEquals(TransportConfig.Channel.UDP, c.channel());
        assertEquals(List.of("10.0.0.1:40100", "10.0.0.2:40100"), c.endpoints());
        assertEquals(16 << 20, c.termLength());
        assertTrue(c.startsDriver(), "udp: every process embeds its own driver");
        assertEquals("/tmp/x/cohort-job_7-r1", c.driverDirectory());
    }

    @Test
    void ipcRanksShareTheGroupsDriverThatRankZeroStarts() {
        TransportConfig r0 = TransportConfig.defaults().withMember("g", 0, 3).withBaseDir("/dev/shm");
        TransportConfig r2 = TransportConfig.defaults().withMember("g", 2, 3).withBaseDir("/dev/shm");
        assertEquals(r0.driverDirectory(), r2.driverDirectory());
        assertTrue(r0.startsDriver());
        assertTrue(!r2.startsDriver());
    }

    @Test
    void externalDriverIsUsedAsIs() {
        TransportConfig c = TransportConfig.from(ConfigFactory.parseString("cohort.transport.aeron-dir = \"/dev/shm/aeron-x\""));
        assertEquals("/dev/shm/aeron-x", c.driverDirectory());
        assertTrue(!c.startsDriver());
    }

    @Test
    void inconsistentSettingsAreRejectedWithTheirName() {
        CohortException e = assertThrows(CohortException.class, () -> TransportConfig.from(ConfigFactory.parseString(
                "cohort.transport { size = 3, channel = udp, endpoints = [\"a:1\"] }")));
        assertTrue(e.getMessage().contains("endpoints"), e.getMessage());
        e = assertThrows(CohortException.class, () -> TransportConfig.from(ConfigFactory.parseString(
                "cohort.transport { size = 2, rank = 2 }")));
        assertTrue(e.getMessage().contains("rank 2"), e.getMessage());
        e = assertThrows(CohortException.class, () -> TransportConfig.from(ConfigFactory.parseString(
                "cohort.transport { channel = tcp }")));
        assertTrue(e.getMessage().contains("ipc or udp"), e.getMessage());
        e = assertThrows(CohortException.class, () -> TransportConfig.from(ConfigFactory.parseString(
                "cohort.transport { term-length = 100k }")));
        assertTrue(e.getMessage().contains("power of two"), e.getMessage());
    }
}
