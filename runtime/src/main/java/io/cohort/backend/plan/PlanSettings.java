package io.cohort.backend.plan;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.plan.Algorithm;
import java.time.Duration;
import java.util.Locale;

/**
 * The settings of a plan-based backend, read from the {@code cohort} configuration section (missing keys
 * come from the runtime's reference.conf).
 *
 * @param timeout           bound on waiting for a peer to enqueue ({@code collective.timeout})
 * @param forcedAlgorithm   algorithm for every call, or null to let the selector choose ({@code algorithm.force})
 * @param arity             children per node of a forced KARY_TREE ({@code algorithm.default-arity})
 * @param chunkElements     pipelining chunk, 0 = none ({@code algorithm.chunk-elements})
 * @param stagingCapacity   bytes of each rank's pinned staging pool, 0 = {@code MemoryPool.defaultCapacity}
 *                          ({@code pool.staging-capacity})
 */
public record PlanSettings(Duration timeout, Algorithm forcedAlgorithm, int arity, long chunkElements,
                           long stagingCapacity) {

    public static PlanSettings from(Config cohort) {
        Config c = cohort.withFallback(ConfigFactory.defaultReference().getConfig("cohort"));
        String force = c.getString("algorithm.force").trim().toLowerCase(Locale.ROOT);
        Algorithm forced = force.isEmpty() || force.equals("none") || force.equals("auto") ? null : Algorithm.parse(force);
        return new PlanSettings(c.getDuration("collective.timeout"), forced, c.getInt("algorithm.default-arity"),
                c.getLong("algorithm.chunk-elements"), bytesOrAuto(c, "pool.staging-capacity"));
    }

    /** A byte size, or 0 for "auto". */
    public static long bytesOrAuto(Config c, String path) {
        if (c.getString(path).trim().equalsIgnoreCase("auto")) {
            return 0;
        }
        return c.getBytes(path);
    }
}
