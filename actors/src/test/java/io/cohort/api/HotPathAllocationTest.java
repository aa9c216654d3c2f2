package io.cohort.api;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * After warm-up, an all-reduce through {@link CohortGroup} allocates next to nothing per call: the calling
 * thread only the stage it gets back (and the call record when the shape changes), the completing threads
 * (the poller, and on host devices the ranks' stream threads, which complete the collectives themselves) only
 * the result they complete the stage with. Counted with {@code ThreadMXBean#getThreadAllocatedBytes}
 * over 10,000 calls of 8 KiB f32 on two host devices.
 */
class HotPathAllocationTest {

    static final int CALLS = 10_000;
    /** The stage (24-32 bytes) and, when the caller finishes its own collective, the result (about 64). */
    static final long CALLER_BYTES_PER_CALL = 128;
    static final long POLLER_BYTES_PER_CALL = 128;

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"AUTO", "NATIVE"})
    void allReduceAllocatesAlmostNothingPerCallOnTheCallerOrTheCompletionThread(BackendKind kind) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Cohort cohort = Cohort.start(ConfigFactory.load())) {
            CohortGroup group = cohort.group(cohort.devices("host:2"), kind);
            List<Tensor> t = group.allocate(DType.F32, 2048);
            for (int i = 0; i < 20_000; i++) { // warm-up: the path compiled
                group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join();
            }
            long[] completing = Thread.getAllStackTraces().keySet().stream()
                    .filter(th -> th.getName().startsWith("cohort-completions-") || th.getName().matches("cohort-host-.*-stream-.*"))
                    .mapToLong(Thread::threadId).toArray();
            assertTrue(completing.length >= 3, "the poller and two stream threads");
            long me = Thread.currentThread().threadId();
            long callerBefore = mx.getThreadAllocatedBytes(me);
            long pollerBefore = java.util.Arrays.stream(mx.getThreadAllocatedBytes(completing)).sum();
            for (int i = 0; i < CALLS; i++) {
                group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join();
            }
            long caller = (mx.getThreadAllocatedBytes(me) - callerBefore) / CALLS;
            long completions = (java.util.Arrays.stream(mx.getThreadAllocatedBytes(completing)).sum() - pollerBefore) / CALLS;
            System.out.printf("%s: %d bytes per call on the calling thread, %d on the completing threads%n",
                    group.backendChoice().chosen(), caller, completions);
            assertTrue(caller <= CALLER_BYTES_PER_CALL, "calling thread: " + caller + " bytes per call");
            assertTrue(completions <= POLLER_BYTES_PER_CALL, "completing threads: " + completions + " bytes per call");
            group.release(t);
            group.close();
        }
    }
}
