package io.cohort.jmh;

import io.cohort.device.host.HostKernels;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * {@link HostKernels#reduce} (dst = a + b) on 1 MiB per operand, straight on off-heap memory: the element
 * loop of the host device without its stream. Lives in the kernels' package because they are package-private.
 * Bytes touched per operation: 3 MiB (two reads, one write).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class HostKernelsBenchmark {

    @Param({"F32", "BF16"})
    public DType dtype;

    @Param({"1048576"})
    public int bytes;

    /** A field, not a constant, as on a stream thread: the kernel must not rely on the JIT folding the op. */
    @Param({"SUM"})
    public ReduceOp op;

    private Arena arena;
    private MemorySegment a;
    private MemorySegment b;
    private MemorySegment dst;
    private long count;

    @Setup(Level.Trial)
    public void allocate() {
        arena = Arena.ofShared();
        a = arena.allocate(bytes, 64);
        b = arena.allocate(bytes, 64);
        dst = arena.allocate(bytes, 64);
        count = bytes / dtype.bytes();
        SplittableRandom random = new SplittableRandom(1);
        for (long i = 0; i < count; i++) {
            dtype.set(a, i, (float) random.nextDouble(-1, 1));
            dtype.set(b, i, (float) random.nextDouble(-1, 1));
        }
    }

    @TearDown(Level.Trial)
    public void free() {
        arena.close();
    }

    @Benchmark
    public MemorySegment reduceSum() {
        HostKernels.reduce(dtype, op, a, 0, b, 0, dst, 0, count);
        return dst;
    }
}
