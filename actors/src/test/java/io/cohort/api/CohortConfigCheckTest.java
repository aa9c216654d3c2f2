package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.config.InvalidConfigException;
import org.junit.jupiter.api.Test;

/** Cohort.start refuses a bad configuration in one line before it starts an actor system. */
class CohortConfigCheckTest {

    private static String refused(String hocon) {
        long start = System.nanoTime();
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> Cohort.start(ConfigFactory.parseString(hocon).withFallback(ConfigFactory.load())));
        // refused before anything starts: no 30 s shutdown of a half-started system
        assertTrue(System.nanoTime() - start < 10_000_000_000L);
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.isAlive()
                && t.getName().startsWith("cohort-")), "threads left");
        return e.getMessage();
    }

    @Test
    void aWronglyTypedTimeoutAnUnknownKeyAndAnInvalidBackend() {
        assertEquals("config key cohort.collective.timeout = \"fast\" (String: 1) is not a duration (e.g. 30s)",
                refused("cohort.collective.timeout = fast"));
        assertEquals("unknown config key cohort.colective.timeout (String: 1); did you mean cohort.collective.timeout?",
                refused("cohort.colective.timeout = 5s"));
        assertEquals("config key cohort.backend.kind = \"nvlink\" (String: 1) must be one of auto, p2p, native, nccl",
                refused("cohort.backend.kind = nvlink"));
        assertEquals("config key cohort.api.timeout = \"soon\" (String: 1) is not a duration (e.g. 30s)",
                refused("cohort.api.timeout = soon"));
    }

    @Test
    void pekkoDispatcherSettingsUnderTheDeviceDispatcherAreLeftToPekko() {
        try (Cohort cohort = Cohort.start(ConfigFactory.parseString(
                "cohort.device-dispatcher.thread-pool-executor.keep-alive-time = 30s").withFallback(ConfigFactory.load()))) {
            assertEquals(2, cohort.devices("host:2").size());
        }
    }
}
