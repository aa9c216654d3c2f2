package io.cohort.device.host;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.MemorySegment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The element loops of the host device: reduce and scale over off-heap memory. With
 * {@code jdk.incubator.vector} in the JVM (started with {@code --add-modules jdk.incubator.vector}) they run
 * on the Vector API ({@link VectorHostKernels}); without it, one element at a time
 * ({@link ScalarHostKernels}), and the first use logs one INFO line naming the flag. The module is an
 * incubator, so a plain {@code java -cp} does not resolve it; probing the boot layer, rather than catching
 * {@code NoClassDefFoundError}, keeps the vector class unloaded there (Lucene does the same).
 * {@code -Dcohort.host.kernels=scalar} chooses the scalar loops even with the module there: their speed and
 * allocation do not depend on what the JIT made of the Vector API (the transport's allocation test runs so).
 * Offsets are in bytes, counts in elements. Public: the Aeron transport reduces received chunks with them too.
 */
public final class HostKernels {

    private static final Logger log = LoggerFactory.getLogger(HostKernels.class);

    /** The system property that chooses the loops: {@code auto} (the default) or {@code scalar}. */
    public static final String KERNELS_PROPERTY = "cohort.host.kernels";

    private static final boolean FORCED_SCALAR = "scalar".equalsIgnoreCase(System.getProperty(KERNELS_PROPERTY, "auto"));

    /** Whether the Vector API is used; a constant, so the JIT drops the branch not taken. */
    private static final boolean VECTOR = vectorModulePresent() && !FORCED_SCALAR;

    static {
        if (FORCED_SCALAR) {
            log.info("host reductions run scalar: {}=scalar", KERNELS_PROPERTY);
        } else if (!VECTOR) {
            log.info("jdk.incubator.vector is not loaded: host reductions run scalar; start java with "
                    + "--add-modules jdk.incubator.vector to vectorise them");
        }
    }

    private HostKernels() {
    }

    /** Whether the JVM runs the vectorised kernels. */
    public static boolean vectorised() {
        return VECTOR;
    }

    /** dst = a op b for {@code count} elements (AVG combines as SUM); dst may alias a or b. */
    public static void reduce(DType type, ReduceOp op, MemorySegment a, long aOff, MemorySegment b, long bOff,
                              MemorySegment dst, long dstOff, long count) {
        if (VECTOR) {
            VectorHostKernels.reduce(type, op, a, aOff, b, bOff, dst, dstOff, count);
        } else {
            ScalarHostKernels.reduce(type, op.pairwise(), a, aOff, b, bOff, dst, dstOff, count);
        }
    }

    /** buf *= factor for {@code count} elements, rounding to the type once. */
    public static void scale(DType type, MemorySegment buf, long off, long count, float factor) {
        if (VECTOR) {
            VectorHostKernels.scale(type, buf, off, count, factor);
        } else {
            ScalarHostKernels.scale(type, buf, off, count, factor);
        }
    }

    static boolean vectorModulePresent() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }
}
