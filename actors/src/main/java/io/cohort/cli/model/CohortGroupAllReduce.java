package io.cohort.cli.model;

import io.cohort.api.CohortGroup;
import io.cohort.core.CohortException;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.nn.AllReduceGroup;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** The tensor-parallel layers' all-reduce carried by a {@link CohortGroup} (its backend: p2p, native, nccl). */
final class CohortGroupAllReduce implements AllReduceGroup {
    private final CohortGroup group;
    private final Duration timeout;

    CohortGroupAllReduce(CohortGroup group, Duration timeout) {
        this.group = group;
        this.timeout = timeout;
    }

    @Override
    public int size() {
        return group.size();
    }

    @Override
    public void allReduceSum(Tensor[] perRank) {
        try {
            group.allReduce(Arrays.asList(perRank), ReduceOp.SUM).toCompletableFuture()
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof CohortException c ? c
                    : new CohortException("all-reduce failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new CohortException("all-reduce of " + perRank[0].count() + " elements did not finish within " + timeout, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CohortException("interrupted in all-reduce", e);
        }
    }

    @Override
    public String describe() {
        return group.backendChoice().toString();
    }
}
