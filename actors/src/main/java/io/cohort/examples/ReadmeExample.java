package io.cohort.examples;

import com.typesafe.config.ConfigFactory;
import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.group.CollectiveResult;
import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import java.io.PrintStream;
import java.util.List;

/** The README's example: four host devices, each holds rank+1 everywhere, all-reduce (sum) gives 1+2+3+4 = 10. */
public final class ReadmeExample {

    public static void main(String[] args) {
        run(System.out);
    }

    /** Runs the example, prints what happened, returns rank 0's first element after the all-reduce. */
    public static float run(PrintStream out) {
        try (Cohort cohort = Cohort.start(ConfigFactory.load())) {
            CohortGroup group = cohort.group(cohort.devices("host:4"), BackendKind.AUTO);
            List<Tensor> tensors = group.allocate(DType.F32, 1 << 20);
            for (int r = 0; r < group.size(); r++) {
                for (long i = 0; i < tensors.get(r).count(); i++) {
                    DType.F32.set(tensors.get(r).buffer().segment(), i, r + 1);
                }
            }
            CollectiveResult result = group.allReduce(tensors, ReduceOp.SUM).toCompletableFuture().join();
            float first = DType.F32.get(tensors.getFirst().buffer().segment(), 0);
            out.printf("%s: all-reduce of %d x f32 on %d devices -> %.1f in %.1f us (%s/%s)%n", group.backendChoice().chosen().cliName(),
                    tensors.getFirst().count(), group.size(), first, result.elapsedNanos() / 1e3,
                    result.backend().cliName(), result.algorithm());
            return first;
        }
    }
}
