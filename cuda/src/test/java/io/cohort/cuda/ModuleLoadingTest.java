package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ModuleLoadingTest {
    @Test
    void eagerByDefaultSoNoKernelLaunchWaitsForALazyLoadBehindASpinningP2pKernel() {
        assertEquals(Optional.of("EAGER"), ModuleLoading.choose("eager", null));
        assertEquals(Optional.of("LAZY"), ModuleLoading.choose("LAZY", ""));
        assertEquals(Optional.empty(), ModuleLoading.choose("driver-default", null));
    }

    @Test
    void whatTheUserExportedWins() {
        assertEquals(Optional.empty(), ModuleLoading.choose("eager", "LAZY"));
    }

    @Test
    void anUnknownValueFallsBackToTheSafeOne() {
        assertEquals(Optional.of("EAGER"), ModuleLoading.choose("sometimes", null));
    }
}
