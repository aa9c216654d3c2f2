package io.cohort.actor;

import com.typesafe.config.Config;
import io.cohort.core.CohortException;
import io.cohort.devices.Devices;
import io.cohort.metrics.CollectiveMetrics;

/** The standard parts: pools from the core runtime, detectors from the device providers, backends from Backends. */
public final class Environments {
    private Environments() {
    }

    public static Environment defaults(Config cohortConfig) {
        return new Environment(cohortConfig,
                device -> {
                    throw new CohortException("memory pools are not wired yet");
                },
                Devices::topology,
                (requested, group) -> {
                    throw new CohortException("backends are not wired yet");
                },
                new CollectiveMetrics());
    }
}
