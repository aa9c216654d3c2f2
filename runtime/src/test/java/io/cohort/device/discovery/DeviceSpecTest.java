package io.cohort.device.discovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
                .contains("expected host:N, cuda, cuda:N or auto"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse("host:0")).getMessage()
                .contains("at least 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DeviceSpec.parse("host:x")).getMessage()
                .contains("bad device count"));
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
