package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.group.CollectiveResult;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * On host devices the ranks' stream threads complete the collectives themselves (no poller round). What a caller
 * may do with the stages then: wait without ever blocking on one (the stages of {@code allOf} complete on their
 * own), and chain a stage that blocks on a later collective of the same group (it must not run on, and stop,
 * the stream thread that later collective needs).
 */
class StreamCompletionTest {

    private static float first(Tensor t) {
        return t.buffer().segment().get(ValueLayout.JAVA_FLOAT, 0);
    }

    private static void fill(List<Tensor> ts, float v) {
        for (Tensor t : ts) {
            for (int i = 0; i < t.count(); i++) {
                t.buffer().segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"P2P", "NATIVE"})
    void stagesCompleteWithoutAnyCallerBlockingOnThem(BackendKind kind) throws Exception {
        try (Cohort cohort = Cohort.start(ConfigFactory.load())) {
            CohortGroup group = cohort.group(cohort.devices("host:2"), kind);
            List<Tensor> t = group.allocate(DType.F32, 256);
            fill(t, 1f);
            CompletableFuture<?>[] stages = new CompletableFuture<?>[16];
            for (int i = 0; i < stages.length; i++) {
                stages[i] = group.allReduce(t, ReduceOp.SUM).toCompletableFuture();
            }
            // allOf's own stage: nobody joins the collectives' stages, so nobody helps complete them
            CompletableFuture.allOf(stages).get(10, TimeUnit.SECONDS);
            assertEquals(1f * (1 << stages.length), first(t.get(0)));
            assertEquals(first(t.get(0)), first(t.get(1)));
            group.release(t);
            group.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"P2P", "NATIVE"})
    void aChainedStageMayBlockOnALaterCollectiveOfTheSameGroup(BackendKind kind) throws Exception {
        try (Cohort cohort = Cohort.start(ConfigFactory.parseString("cohort.collective.timeout = 10s")
                .withFallback(ConfigFactory.load()))) {
            CohortGroup group = cohort.group(cohort.devices("host:2"), kind);
            List<Tensor> t = group.allocate(DType.F32, 256);
            fill(t, 1f);
            for (int i = 0; i < 50; i++) {
                CompletableFuture<CollectiveResult> chained = group.allReduce(t, ReduceOp.SUM).toCompletableFuture()
                        .thenApply(r -> group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join());
                chained.get(5, TimeUnit.SECONDS);
                fill(t, 1f);
            }
            group.release(t);
            group.close();
        }
    }
}
