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
 * The host path: {@link io.cohort.group.LocalGroup#allReduce} from the API call until every rank's work is
 * enqueued (argument checks, cached plan lookup, bound steps onto each rank's stream ring), without waiting
 * for the work. The streams are drained after every call, outside the measurement, so the ring never fills
 * and each call starts from idle streams.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class HostEnqueueBenchmark {

    @Param({"2"})
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

    @Benchmark
    public void allReduceEnqueue() {
        state.group.allReduce(state.data, ReduceOp.SUM);
    }
}
