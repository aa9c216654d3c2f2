package io.cohort.cuda;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.core.IdlePolicy;
import java.time.Duration;
import java.util.Locale;

/**
 * The {@code cohort.cuda} section: device-level settings (see reference.conf), and {@code cohort.idle.cuda}, how a
 * host thread waits for the device ({@link DriverWait}).
 *
 * @param flagOps null for auto: stream memory operations where the driver supports them
 * @param completionWords completion events carry a host word their stream sets ({@link CudaDevice#createCompletionEvent})
 */
public record CudaConfig(Duration syncTimeout, FlagOps flagOps, Duration flagTimeout, boolean probeLinks,
                         long probeBytes, IdlePolicy waitPolicy, Duration queueCheckTimeout, boolean completionWords) {

    /** From a {@code cohort} section (defaults from reference.conf). */
    public static CudaConfig from(Config cohort) {
        Config full = withReference(cohort);
        Config c = full.getConfig("cuda");
        return new CudaConfig(positive(c.getDuration("sync-timeout"), "cohort.cuda.sync-timeout"),
                parseFlagOps(c.getString("flag-ops")),
                positive(c.getDuration("flag-timeout"), "cohort.cuda.flag-timeout"),
                c.getBoolean("topology.probe"), c.getBytes("topology.probe-bytes"),
                DriverWait.checked(IdlePolicy.of(full, "cuda"), "cohort.idle.cuda"),
                positive(c.getDuration("queue-check-timeout"), "cohort.cuda.queue-check-timeout"),
                c.getBoolean("completion-words"));
    }

    public static CudaConfig defaults() {
        return from(ConfigFactory.load().getConfig("cohort"));
    }

    /** The given {@code cohort} section over this module's reference.conf. */
    public static Config withReference(Config cohort) {
        return cohort.withFallback(ConfigFactory.defaultReference().getConfig("cohort"));
    }

    static FlagOps parseFlagOps(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> null;
            case "stream-memory-ops", "memops" -> FlagOps.STREAM_MEMORY_OPS;
            case "kernels", "kernel" -> FlagOps.KERNELS;
            default -> throw new IllegalArgumentException(
                    "cohort.cuda.flag-ops: unknown value '" + s + "' (expected auto, stream-memory-ops or kernels)");
        };
    }

    static Duration positive(Duration d, String key) {
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(key + " must be positive, got " + d);
        }
        return d;
    }
}
