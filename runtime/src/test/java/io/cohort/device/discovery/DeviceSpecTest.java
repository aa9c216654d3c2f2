package io.cohort.device.discovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.device.Device;
import io.cohort.device.DeviceKind;
import org.junit.jupiter.api.Test;

class DeviceSpecTest {

    @Test
    void parsesKindsCountsAndAuto() {
        assertEquals(new DeviceSpec(DeviceKind.HOST, 4), DeviceSpec.parse("host:4"));
        assertEquals(new DeviceSpec(DeviceKind.HOST, 0), DeviceSpec.parse(" HOST "));
        assertEquals(new DeviceSpec(DeviceKind.CUDA, 0), DeviceSpec.parse("cuda"));
        assertEquals(new DeviceSpec(DeviceKind.CUDA, 2), DeviceSpec.parse("gpu:2"));
        assertTrue(DeviceSpec.parse("auto").auto());
        assertEquals("host:4", DeviceSpec.parse("host:4").toString());
    }

    @Test
    void refusesWhatItCannotOpen() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse("tpu:1")).getMessage()
                .contains("expected host:N, cuda, cuda:N, cuda:D*R (R ranks on device D) or auto"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse("host:0")).getMessage()
                .contains("at least 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse("host:x")).getMessage()
                .contains("bad device count"));
    }

    @Test
    void parsesSeveralRanksOnOneDevice() {
        DeviceSpec s = DeviceSpec.parse("cuda:0*2");
        assertEquals(DeviceSpec.shared(DeviceKind.CUDA, 0, 2), s);
        assertTrue(s.shared());
        assertEquals("cuda:0*2", s.toString());
        assertEquals(DeviceSpec.shared(DeviceKind.HOST, 1, 4), DeviceSpec.parse(" host:1 * 4 "));
        assertEquals(s, DeviceSpec.parse(s.toString()));
        assertFalse(DeviceSpec.parse("cuda:2").shared());
    }

    @Test
    void refusesBadSharedSpecsInOneLine() {
        for (String[] bad : new String[][] {
                {"cuda:0*0", "rank count must be 1..8 in 'cuda:0*0'"},
                {"cuda:0*9", "rank count must be 1..8 in 'cuda:0*9'"},
                {"cuda:*2", "bad device ordinal '' in 'cuda:*2'"},
                {"cuda:0*", "bad rank count '' in 'cuda:0*'"},
                {"cuda:-1*2", "bad device ordinal '-1' in 'cuda:-1*2'"},
                {"cuda:0*2*2", "bad rank count '2*2' in 'cuda:0*2*2'"},
                {"host:a*2", "bad device ordinal 'a' in 'host:a*2'"}}) {
            String message = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse(bad[0])).getMessage();
            assertTrue(message.startsWith(bad[1]), message);
            assertFalse(message.contains("\n"), message);
        }
    }

    @Test
    void sharedHostSpecOpensOneDeviceForEveryRank() {
        var config = ConfigFactory.parseString("devices.host-count = 2").withFallback(ConfigFactory.load().getConfig("cohort"));
        Devices.Selection s = Devices.open(DeviceSpec.parse("host:1*3"), config);
        try {
            assertEquals(3, s.devices().size());
            assertSame(s.devices().get(0), s.devices().get(2));
            assertEquals("host:1", s.devices().getFirst().name());
            assertTrue(s.shared());
            assertEquals(1, Devices.distinct(s.devices()).size());
            assertTrue(s.reason().endsWith("3 ranks on host:1"), s.reason());
        } finally {
            s.close();
        }
    }

    @Test
    void sharedSpecOfAMissingGpuSaysSoInOneLine() {
        var config = ConfigFactory.parseString("devices.host-count = 2").withFallback(ConfigFactory.load().getConfig("cohort"));
        RuntimeException e = assertThrows(RuntimeException.class, () -> Devices.open(DeviceSpec.parse("cuda:7*2"), config));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().contains("cuda") || e.getMessage().contains("CUDA"), e.getMessage());
    }

    @Test
    void autoWithoutGpusOpensTheConfiguredHostDevices() {
        var config = ConfigFactory.parseString("devices.host-count = 3")
                .withFallback(ConfigFactory.load().getConfig("cohort"));
        Devices.Selection s = Devices.open(DeviceSpec.AUTO, config);
        try {
            assertEquals(3, s.devices().size());
            assertEquals("host:2", s.devices().get(2).name());
            assertTrue(s.reason().startsWith("auto: no CUDA device found, using host:3"), s.reason());
            assertTrue(Devices.topology(s.devices(), config).fullyConnected());
        } finally {
            s.devices().forEach(Device::close);
        }
    }
}
