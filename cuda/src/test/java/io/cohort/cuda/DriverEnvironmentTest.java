package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class DriverEnvironmentTest {
    @Test
    void eagerByDefaultSoNoKernelLaunchWaitsForALazyLoadBehindASpinningP2pKernel() {
        assertEquals(Optional.of("EAGER"), DriverEnvironment.choose("eager", null));
        assertEquals(Optional.of("LAZY"), DriverEnvironment.choose("LAZY", ""));
        assertEquals(Optional.empty(), DriverEnvironment.choose("driver-default", null));
    }

    @Test
    void whatTheUserExportedWins() {
        assertEquals(Optional.empty(), DriverEnvironment.choose("eager", "LAZY"));
    }

    @Test
    void anUnknownValueFallsBackToTheSafeOne() {
        assertEquals(Optional.of("EAGER"), DriverEnvironment.choose("sometimes", null));
    }

    @Test
    void thirtyTwoHardwareQueuesUnlessExported() {
        assertEquals(Optional.of("32"), DriverEnvironment.connections(32, null));
        assertEquals(Optional.of("32"), DriverEnvironment.connections(100, ""), "the driver's most");
        assertEquals(Optional.of("1"), DriverEnvironment.connections(0, null));
        assertEquals(Optional.empty(), DriverEnvironment.connections(32, "8"));
    }
}
