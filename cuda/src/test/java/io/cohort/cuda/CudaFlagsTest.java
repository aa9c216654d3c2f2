package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.device.DeviceException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Tag;

/** writeValue / waitValue order work across streams by sequence number, with either implementation. */
@Tag("gpu")
class CudaFlagsTest {

    @ParameterizedTest
    @EnumSource(FlagOps.class)
    void waitHoldsBackLaterWorkUntilThePeerSignals(FlagOps ops) {
        CudaDevice d = Gpu.device();
        long bytes = 32 << 20;
        CudaBuffer x = d.allocate(bytes);
        CudaBuffer y = d.allocate(bytes);
        CudaBuffer flags = d.allocatePinnedHost(64);
        try (Arena arena = Arena.ofConfined(); CudaStream consumer = d.createStream(ops); CudaStream producer = d.createStream(ops)) {
            for (long seq = 1; seq <= 3; seq++) {
                MemorySegment data = Gpu.random(arena, DType.F32, bytes / 4, new Random());
                // the consumer is enqueued first: its copy may only run after the producer's signal for seq
                consumer.waitValue(flags, 8, seq);
                consumer.copy(x, 0, y, 0, bytes);
                producer.copyFromHost(data, x, 0);
                producer.writeValue(flags, 8, seq);
                MemorySegment back = arena.allocate(bytes);
                consumer.copyToHost(y, 0, back);
                consumer.synchronize();
                assertEquals(-1, data.mismatch(back), ops + ": consumer saw the producer's data for seq " + seq);
                assertEquals(seq, flags.segment().get(ValueLayout.JAVA_LONG, 8));
            }
            // GEQ: a later sequence number releases an earlier wait
            producer.writeValue(flags, 16, 10);
            consumer.waitValue(flags, 16, 7);
            consumer.synchronize();
        } finally {
            d.free(x);
            d.free(y);
            d.free(flags);
        }
    }

    @ParameterizedTest
    @EnumSource(FlagOps.class)
    void anUnsatisfiedWaitTimesOutThenDrainsWhenTheHostWritesTheFlag(FlagOps ops) {
        CudaDevice d = Gpu.device();
        CudaBuffer flags = d.allocatePinnedHost(64);
        try (CudaStream s = d.createStream(ops)) {
            s.waitValue(flags, 0, 42);
            DeviceException e = assertThrows(DeviceException.class, () -> s.synchronize(Duration.ofMillis(300)));
            assertTrue(e.getMessage().contains("did not finish"), e.getMessage());
            flags.segment().set(ValueLayout.JAVA_LONG, 0, 42L);
            s.synchronize();
        } finally {
            d.free(flags);
        }
    }

    @ParameterizedTest
    @EnumSource(FlagOps.class)
    void misalignedFlagsAreRejected(FlagOps ops) {
        CudaDevice d = Gpu.device();
        CudaBuffer flags = d.allocatePinnedHost(64);
        try (CudaStream s = d.createStream(ops)) {
            assertThrows(DeviceException.class, () -> s.writeValue(flags, 4, 1));
            assertThrows(DeviceException.class, () -> s.waitValue(flags, 60, 1));
            assertFalse(flags.segment().get(ValueLayout.JAVA_LONG, 0) != 0);
        } finally {
            d.free(flags);
        }
    }
}
