package io.cohort.api;

import io.cohort.group.CollectiveFailedException;
import io.cohort.group.CollectiveResult;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.device.host.HostDevice;
import io.cohort.testing.RandomData;
import io.cohort.testing.FaultyDevice;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Faults injected into one real host device of a 4-device group: an exception while enqueuing, and a stall
 * on the device's stream. Each fails the collective with an error naming the device, within the collective
 * timeout, and the same group works afterwards (fresh streams, fresh backend).
 */
class FaultRecoveryTest {

    static final Duration TIMEOUT = Duration.ofSeconds(1);

    Cohort cohort;
    List<FaultyDevice> devices;
    CohortGroup group;

    @BeforeEach
    void setUp() {
        cohort = Cohort.start(ConfigFactory.parseString("cohort.collective.timeout = " + TIMEOUT.toMillis() + "ms")
                .withFallback(ConfigFactory.load()));
        // the devices' own stream waits give up later than the coordinator, so the coordinator reports first
        HostDevice.Options options = HostDevice.Options.defaults().withTotalMemory(256L << 20)
                .withWaitTimeout(Duration.ofSeconds(4));
        devices = IntStream.range(0, 4).mapToObj(i -> new FaultyDevice(HostDevice.open(i, options))).toList();
        group = cohort.group(devices, BackendKind.P2P);
    }

    @AfterEach
    void tearDown() {
        devices.forEach(FaultyDevice::release);
        group.close();
        cohort.close();
        devices.forEach(FaultyDevice::close);
    }

    @Test
    void exceptionInOneDeviceFailsTheCollectiveNamingItAndTheGroupWorksAfterwards() {
        assertSumWorks(1);
        devices.get(2).failNextOp();
        List<Tensor> t = group.allocate(DType.F32, 1024);
        CompletionException e = assertThrows(CompletionException.class,
                () -> group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join());
        CollectiveFailedException f = assertInstanceOf(CollectiveFailedException.class, e.getCause());
        assertEquals(List.of("host:2"), f.devices());
        assertTrue(f.getMessage().contains("all-reduce #2 of group"), f.getMessage());
        assertTrue(f.getMessage().contains("rank 2 on host:2 threw: host:2: injected fault"), f.getMessage());
        // reported as thrown (at once), not as a timeout
        assertTrue(!f.getMessage().contains("timed out"), f.getMessage());
        assertSumWorks(1); // seq starts again at 1 on the fresh backend, once the failed work has drained
        assertSumWorks(2);
        group.release(t); // only now: stale work of the failed collective may write its buffers until drained
    }

    @Test
    void stallInOneDeviceTimesOutNamingItAndTheGroupWorksAfterwards() {
        assertSumWorks(1);
        devices.get(1).stallNextOp();
        List<Tensor> t = group.allocate(DType.F32, 1024);
        long start = System.nanoTime();
        CompletionException e = assertThrows(CompletionException.class,
                () -> group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join());
        long tookMs = Duration.ofNanos(System.nanoTime() - start).toMillis();
        CollectiveFailedException f = assertInstanceOf(CollectiveFailedException.class, e.getCause());
        assertTrue(f.devices().contains("host:1"), f.devices().toString());
        assertTrue(f.getMessage().contains("timed out after 1000 ms (cohort.collective.timeout)"), f.getMessage());
        assertTrue(f.getMessage().contains("rank 1 (host:1)"), f.getMessage());
        assertTrue(tookMs >= TIMEOUT.toMillis() - 50, "not before the timeout: " + tookMs + " ms");
        // the caller blocked in join() gives up at the collective's deadline, not at the device's 4 s wait
        assertTrue(tookMs < 3_000, "join returned after " + tookMs + " ms");
        assertSumWorks(1);
        group.release(t);
    }

    /** An all-reduce of rank+1 on every rank gives 1+2+3+4 = 10, with sequence number {@code seq}. */
    private void assertSumWorks(long seq) {
        List<Tensor> t = group.allocate(DType.F32, 1024);
        try {
            for (int r = 0; r < 4; r++) {
                float[] v = new float[1024];
                Arrays.fill(v, r + 1);
                RandomData.write(t.get(r).buffer(), DType.F32, v);
            }
            CollectiveResult result = group.allReduce(t, ReduceOp.SUM).toCompletableFuture().join();
            assertEquals(seq, result.seq());
            for (int r = 0; r < 4; r++) {
                for (float v : RandomData.read(t.get(r).buffer(), DType.F32, 1024)) {
                    assertEquals(10f, v);
                }
            }
        } finally {
            group.release(t);
        }
    }
}
