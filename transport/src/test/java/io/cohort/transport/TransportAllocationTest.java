package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.host.HostKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transport's steady state allocates nothing per fragment. Run in its own surefire execution with
 * {@code -Dcohort.host.kernels=scalar} (see this module's pom): with the Vector API, whether the reduction of a
 * received chunk boxes depends on what the JIT made of it (on a loaded 2-core CI machine once never clean in 400
 * rounds), which is not what this test is about; the scalar loops allocate nothing once compiled. The other
 * execution (which also takes it when {@code -Dtest} names it) skips it.
 */
@EnabledIfSystemProperty(named = HostKernels.KERNELS_PROPERTY, matches = "scalar")
class TransportAllocationTest {

    @TempDir
    Path dir;

    @Test
    void steadyStateAllReduceAllocatesNothingPerFragment() throws Exception {
        assertTrue(!HostKernels.vectorised(), "the scalar kernels were asked for, yet the vector ones run");
        long count = (4L << 20) / 4; // 4 MiB of f32: 32+ frames each way per call
        List<Long> allocated = InProcessRanks.run(dir, TransportConfig.defaults(), "inproc-alloc", 2, g -> {
            var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(count * 4, 64);
                MemorySegment verdict = arena.allocate(4, 64);
                // measure rounds until one is clean (the JIT compiles each dtype's path in turn); the ranks agree
                // on the worst of each round so they stop together
                long worst = Long.MAX_VALUE;
                for (int round = 0; round < 200 && worst >= 16 * 1024; round++) {
                    long before = threads.getCurrentThreadAllocatedBytes();
                    for (DType type : DType.values()) {
                        for (int i = 0; i < 5; i++) {
                            g.allReduce(buf, type, ReduceOp.SUM, count);
                        }
                    }
                    long bytes = threads.getCurrentThreadAllocatedBytes() - before;
                    DType.F32.set(verdict, 0, (float) bytes);
                    g.allReduce(verdict, DType.F32, ReduceOp.MAX, 1);
                    worst = (long) DType.F32.get(verdict, 0);
                }
                return worst;
            }
        });
        // 15 calls x 32+ frames each way: a per-fragment allocation would show as tens of KiB
        for (long bytes : allocated) {
            assertTrue(bytes < 16 * 1024, "every round allocated, the last " + bytes + " bytes in 15 all-reduces of 4 MiB");
        }
    }
}
