package io.cohort.cuda;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's environment, set before {@code cuInit}: the driver reads these variables there, so they are set in
 * the process's environment (libc {@code setenv}) before the first {@code cuInit}; a value the user exported wins.
 *
 * <p>{@code CUDA_MODULE_LOADING} ({@code cohort.cuda.module-loading}), eager by default: with CUDA's lazy loading
 * (the driver's default since 12.2) the first launch of a kernel loads it, and loading may wait for the device's
 * running kernels. Cohort's P2P kernels spin on the device until every rank has arrived, so a rank whose next
 * kernel (a cuBLAS GEMM, one of ours) is not loaded yet waits for a kernel that waits for it: a deadlock until the
 * barrier's timeout. NVIDIA's lazy-loading notes name this case (kernels that wait on each other).
 *
 * <p>{@code CUDA_DEVICE_MAX_CONNECTIONS} ({@code cohort.cuda.device-max-connections}), 32 by default (the
 * driver's is 8): streams share the device's hardware work queues, and kernels in one queue start in order. When
 * two ranks sharing a GPU have streams on one queue, a rank's all-reduce spinning for its peer holds back the
 * peer's all-reduce behind it: a deadlock until the barrier's timeout (every time with one queue). {@link
 * QueuePlacement} gives each rank stream of a shared GPU a queue of its own, which needs enough of them.
 */
final class DriverEnvironment {
    private static final Logger LOG = LoggerFactory.getLogger(DriverEnvironment.class);
    static final String VARIABLE = "CUDA_MODULE_LOADING";
    static final String CONNECTIONS = "CUDA_DEVICE_MAX_CONNECTIONS";

    private DriverEnvironment() {
    }

    /** What {@link #beforeInit} would export: EAGER, LAZY, or empty for the driver's default. */
    static Optional<String> choose(String configured, String exported) {
        if (exported != null && !exported.isBlank()) {
            return Optional.empty();   // the user's own setting stands
        }
        return switch (configured.toLowerCase(Locale.ROOT)) {
            case "eager" -> Optional.of("EAGER");
            case "lazy" -> Optional.of("LAZY");
            case "driver-default" -> Optional.empty();
            default -> {   // ConfigValidator refuses it in Cohort.start and the CLI; a bare LocalGroup gets the safe one
                LOG.warn("cohort.cuda.module-loading = '{}' is not eager, lazy or driver-default: using eager", configured);
                yield Optional.of("EAGER");
            }
        };
    }

    /** What {@link #beforeInit} would export for the hardware queues: the configured count, unless exported. */
    static Optional<String> connections(int configured, String exported) {
        if (exported != null && !exported.isBlank()) {
            return Optional.empty();
        }
        return Optional.of(Integer.toString(Math.clamp(configured, 1, 32)));
    }

    /** Sets the variables from the configuration unless the environment has them. Call before cuInit. */
    static void beforeInit() {
        Config config = ConfigFactory.load();
        String configured = config.hasPath("cohort.cuda.module-loading")
                ? config.getString("cohort.cuda.module-loading") : "eager";
        choose(configured, System.getenv(VARIABLE)).ifPresent(v -> export(VARIABLE, v));
        int queues = config.hasPath("cohort.cuda.device-max-connections")
                ? config.getInt("cohort.cuda.device-max-connections") : 32;
        connections(queues, System.getenv(CONNECTIONS)).ifPresent(v -> export(CONNECTIONS, v));
    }

    private static void export(String variable, String value) {
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            int r = (int) setenv.invokeExact(arena.allocateFrom(variable), arena.allocateFrom(value), 0);
            LOG.debug("{}={} for cuInit (setenv returned {})", variable, value, r);
        } catch (Throwable t) {
            LOG.warn("could not set {}={} before cuInit ({}); P2P kernels on shared devices may wait for each other",
                    variable, value, t.toString());
        }
    }
}
