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
 * Chooses CUDA's module loading before {@code cuInit} ({@code cohort.cuda.module-loading}).
 *
 * <p>Why eager by default: with CUDA's lazy loading (the driver's default since 12.2) the first launch of a kernel
 * loads it, and loading may wait for the device's running kernels. Cohort's P2P kernels spin on the device
 * until every rank has arrived, so a rank whose next kernel (a cuBLAS GEMM, one of ours) is not loaded yet waits
 * for a kernel that waits for it: a deadlock until the barrier's timeout. NVIDIA's lazy-loading notes name this
 * case (kernels that wait on each other). The variable is read by the driver at {@code cuInit}, so it is set in
 * the process's environment (libc {@code setenv}) before the first {@code cuInit}; a value the user exported wins.
 */
final class ModuleLoading {
    private static final Logger LOG = LoggerFactory.getLogger(ModuleLoading.class);
    static final String VARIABLE = "CUDA_MODULE_LOADING";

    private ModuleLoading() {
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

    /** Sets CUDA_MODULE_LOADING from the configuration unless the environment has it. Call before cuInit. */
    static void beforeInit() {
        Config config = ConfigFactory.load();
        String configured = config.hasPath("cohort.cuda.module-loading")
                ? config.getString("cohort.cuda.module-loading") : "eager";
        choose(configured, System.getenv(VARIABLE)).ifPresent(ModuleLoading::export);
    }

    private static void export(String value) {
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            int r = (int) setenv.invokeExact(arena.allocateFrom(VARIABLE), arena.allocateFrom(value), 0);
            LOG.debug("{}={} for cuInit (setenv returned {})", VARIABLE, value, r);
        } catch (Throwable t) {
            LOG.warn("could not set {}={} before cuInit ({}); P2P kernels on shared devices may wait for lazy loading",
                    VARIABLE, value, t.toString());
        }
    }
}
