package io.cohort.bench;

import io.cohort.core.ReduceOp;
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
 * Small all-reduce on host devices through {@link io.cohort.group.LocalGroup} (auto backend: P2P over shared
 * memory; the selector's small-message rule picks one-shot). {@link #endToEnd}: the call and the wait for
 * every rank's stream, i.e. what a caller sees, dominated by thread hand-offs between the caller and the
 * stream threads. Results depend heavily on free cores: each rank's stream is a thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class HostAllReduceBenchmark {

    @Param({"2", "4"})
    public int ranks;

    @Param({"1024"})
    public int count;

    /** cohort.host.wait: "default" or "SPIN/YIELD" (see {@link HostGroupState#policy}). */
    @Param({"default"})
    public String wait;

    private HostGroupState state;

    @Setup(Level.Trial)
    public void open() {
        state = new HostGroupState(ranks, count, wait);
    }

    @TearDown(Level.Trial)
    public void close() {
        state.close();
    }

    /** allReduce + synchronize: API call to every rank's result ready. */
    @Benchmark
    public void endToEnd() {
        state.group.allReduceSync(state.data, ReduceOp.SUM);
    }
}
