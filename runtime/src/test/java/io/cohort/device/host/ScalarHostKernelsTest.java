package io.cohort.device.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The scalar fallback gives the same bits as the vector kernels, and both match a reference in double. */
class ScalarHostKernelsTest {

    private static final int COUNT = 1003; // not a multiple of any vector length: the tails run too

    @Test
    void testsRunWithTheVectorModuleSoBothPathsAreCompared() {
        assertTrue(HostKernels.vectorised());
    }

    @Test
    void reduceAndScaleMatchTheVectorKernelsBitForBit() {
        Random random = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : DType.values()) {
                MemorySegment a = arena.allocate((long) COUNT * type.bytes());
                MemorySegment b = arena.allocate((long) COUNT * type.bytes());
                for (long i = 0; i < COUNT; i++) {
                    type.set(a, i, (float) random.nextGaussian() * 100);
                    type.set(b, i, (float) random.nextGaussian() * 100);
                }
                for (ReduceOp op : ReduceOp.values()) {
                    MemorySegment scalar = arena.allocate(a.byteSize());
                    MemorySegment vector = arena.allocate(a.byteSize());
                    ScalarHostKernels.reduce(type, op.pairwise(), a, 0, b, 0, scalar, 0, COUNT);
                    VectorHostKernels.reduce(type, op, a, 0, b, 0, vector, 0, COUNT);
                    for (long i = 0; i < COUNT; i++) {
                        double x = type.get(a, i);
                        double y = type.get(b, i);
                        double expected = switch (op) {
                            case SUM, AVG -> x + y;
                            case MAX -> Math.max(x, y);
                            case MIN -> Math.min(x, y);
                        };
                        // one rounding to the type: within half a unit of the type's precision
                        assertEquals(expected, type.get(scalar, i), Math.abs(expected) * type.unitRoundoff() + 1e-30,
                                type + " " + op + " at " + i);
                    }
                    assertEquals(-1, scalar.mismatch(vector), type + " " + op);
                    ScalarHostKernels.scale(type, scalar, 0, COUNT, 0.37f);
                    VectorHostKernels.scale(type, vector, 0, COUNT, 0.37f);
                    assertEquals(-1, scalar.mismatch(vector), type + " scale");
                }
            }
        }
    }
}
