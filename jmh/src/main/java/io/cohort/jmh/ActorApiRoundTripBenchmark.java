package io.cohort.jmh;

import com.typesafe.config.ConfigFactory;
import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.group.CollectiveResult;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The round trip of one 8 KiB f32 all-reduce on 2 host devices, as an application sees it, through the actor
 * API ({@code CohortGroup.allReduce(...).toCompletableFuture().join()}) beside the same collective through
 * {@link io.cohort.group.LocalGroup} ({@code allReduceSync}), in one run, on the same kind of devices. Sample
 * time: JMH reports p50 and p99 per benchmark. What issue 13 compares: CohortGroup within 1.5x of LocalGroup,
 * and {@code auto} within 1.2x of {@code native}.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class ActorApiRoundTripBenchmark {

    /** 8 KiB of f32. */
    static final int COUNT = 2048;

    /** A Cohort of its own with one group of host:2 and one tensor per rank. */
    @State(Scope.Benchmark)
    public static class ActorApi {
        @Param({"auto", "native"})
        public String backend;

        Cohort cohort;
        CohortGroup group;
        List<Tensor> data;

        @Setup(Level.Trial)
        public void open() {
            cohort = Cohort.start(ConfigFactory.load());
            group = cohort.group(cohort.devices("host:2"), BackendKind.parse(backend));
            data = group.allocate(DType.F32, COUNT);
        }

        @TearDown(Level.Trial)
        public void close() {
            group.release(data);
            group.close();
            cohort.close();
        }
    }

    /** The same collective without actors. */
    @State(Scope.Benchmark)
    public static class Local {
        HostGroupState state;

        @Setup(Level.Trial)
        public void open() {
            state = new HostGroupState(2, COUNT, "default");
        }

        @TearDown(Level.Trial)
        public void close() {
            state.close();
        }
    }

    @Benchmark
    public CollectiveResult cohortGroup(ActorApi s) {
        return s.group.allReduce(s.data, ReduceOp.SUM).toCompletableFuture().join();
    }

    @Benchmark
    public void localGroup(Local s) {
        s.state.group.allReduceSync(s.state.data, ReduceOp.SUM);
    }
}
