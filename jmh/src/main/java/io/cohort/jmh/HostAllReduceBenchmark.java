package io.cohort.jmh;

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
 * memory; the selector's small-message rule picks one-shot). Results depend heavily on free cores: each
 * rank's stream is a thread.
 * <ul>
 *   <li>{@link #enqueue}: the host path, from the API call until every rank's work is enqueued (argument
 *       checks, cached plan, bound steps onto each stream's ring), without waiting for the work;</li>
 *   <li>{@link #endToEnd}: the call and the wait for every rank's stream, what a caller sees, dominated by the
 *       hand-offs between the caller and the stream threads.</li>
 * </ul>
 * The streams are drained after every call, outside the measurement, so each call starts from idle streams
 * and the ring never fills.
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

    @TearDown(Level.Invocation)
    public void drain() {
        state.group.synchronize();
    }

    @TearDown(Level.Trial)
    public void close() {
        state.close();
    }

    /** allReduce: API call to every rank's work enqueued. */
    @Benchmark
    public void enqueue() {
        state.group.allReduce(state.data, ReduceOp.SUM);
    }

    /** allReduce + synchronize: API call to every rank's result ready. */
    @Benchmark
    public void endToEnd() {
        state.group.allReduceSync(state.data, ReduceOp.SUM);
    }
}
