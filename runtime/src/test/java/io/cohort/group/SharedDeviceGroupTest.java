package io.cohort.group;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.backend.BackendKind;
import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Tensor;
import io.cohort.device.host.HostDevice;
import io.cohort.testing.FakeDevice;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** Several ranks on one device (the {@code host:0*3} / {@code cuda:0*2} spec): own streams and pools, right sums. */
class SharedDeviceGroupTest {
    private final HostDevice device = HostDevice.open(0, new HostDevice.Options(256L << 20, Duration.ofSeconds(10)));
    private final List<HostDevice> ranks = Collections.nCopies(3, device);

    @AfterEach
    void close() {
        device.close();
    }

    @Test
    void theDeviceHearsItIsSharedBeforeItsRankStreamsAreMade() {
        FakeDevice fake = new FakeDevice(0);
        try (LocalGroup group = LocalGroup.builder(List.of(fake, fake)).backend(BackendKind.NATIVE).sharedDevices()
                .poolCapacity(1 << 20).open()) {
            assertEquals(2, group.ranks());
            assertEquals(2, fake.sharedByRanks);
            assertEquals(0, fake.streamsBeforeShared);
        }
    }

    @Test
    void aDeviceOfItsOwnIsNotToldItIsShared() {
        FakeDevice a = new FakeDevice(0), b = new FakeDevice(1);
        try (LocalGroup group = LocalGroup.builder(List.of(a, b)).backend(BackendKind.NATIVE).poolCapacity(1 << 20)
                .open()) {
            assertEquals(0, a.sharedByRanks);
            assertEquals(0, b.sharedByRanks);
        }
    }

    @Test
    void refusedUnlessAskedFor() {
        CohortException e = assertThrows(CohortException.class, () -> LocalGroup.open(ranks));
        assertTrue(e.getMessage().contains("appears twice"), e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"AUTO", "P2P", "NATIVE"})
    void ranksOnOneDeviceAllReduceWithTheirOwnStreamsAndPools(BackendKind kind) {
        try (LocalGroup group = LocalGroup.builder(ranks).backend(kind).sharedDevices().open()) {
            assertNotSame(group.stream(0), group.stream(1));
            assertNotSame(group.pool(0), group.pool(2));
            int n = 1000;
            Tensor[] t = new Tensor[3];
            for (int r = 0; r < 3; r++) {
                t[r] = new Tensor(device.allocate(4L * n), DType.F32, n);
                for (int i = 0; i < n; i++) {
                    DType.F32.set(t[r].buffer().segment(), i, r * 1000 + i);
                }
            }
            for (int round = 0; round < 3; round++) {
                group.allReduceSync(t, ReduceOp.SUM);
            }
            for (int r = 0; r < 3; r++) {
                for (int i = 0; i < n; i += 97) {
                    // three rounds: 3^2 * (0 + 1000 + 2000 + 3 i)
                    assertEquals(9f * (3000 + 3 * i), DType.F32.get(t[r].buffer().segment(), i), "rank " + r + " element " + i);
                }
            }
        }
    }
}
