package io.cohort.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.device.DeviceBuffer;
import io.cohort.device.host.HostDevice;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CarvingMemoryPoolTest {

    private static final long MiB = 1L << 20;
    private final HostDevice device = HostDevice.open(0, new HostDevice.Options(1L << 30, Duration.ofSeconds(5)));

    @AfterEach
    void close() {
        device.close();
    }

    @Test
    void defaultCapacityIsTenPercentClampedTo32And512MiB() {
        assertEquals(32 * MiB, MemoryPool.defaultCapacity(100 * MiB));   // 10 MiB -> raised to 32 MiB
        assertEquals((1L << 30) / 10, MemoryPool.defaultCapacity(1L << 30)); // 102.4 MiB, inside the range
        assertEquals(512 * MiB, MemoryPool.defaultCapacity(100L << 30)); // 10 GiB -> capped at 512 MiB
    }

    @Test
    void defaultPoolTakesItsCapacityFromTheDevicesFreeMemory() {
        try (CarvingMemoryPool pool = CarvingMemoryPool.create(device)) {
            long want = MemoryPool.defaultCapacity(1L << 30);
            assertEquals((want + 255) / 256 * 256, pool.capacity(), "rounded up to the block alignment");
            assertEquals((1L << 30) - pool.capacity(), device.freeMemory());
        }
        assertEquals(1L << 30, device.freeMemory());
    }

    @Test
    void carvesAlignedBlocksAndCoalescesOnRelease() {
        try (CarvingMemoryPool pool = CarvingMemoryPool.create(device, 4096)) {
            DeviceBuffer a = pool.allocate(100);
            DeviceBuffer b = pool.allocate(256);
            DeviceBuffer c = pool.allocate(1);
            assertEquals(100, a.byteSize());
            for (DeviceBuffer x : List.of(a, b, c)) {
                assertEquals(0, x.address() % 256);
            }
            assertEquals(768, pool.stats().inUse());
            pool.release(b);
            assertEquals(2, pool.freeBlocks(), "hole between a and c, plus the tail");
            pool.release(a);
            assertEquals(2, pool.freeBlocks(), "a and b's hole merged");
            pool.release(c);
            assertEquals(1, pool.freeBlocks(), "everything merged back");
            assertEquals(4096, pool.largestFree());
            DeviceBuffer all = pool.allocate(4096);
            assertEquals(4096, all.byteSize());
            PoolStats s = pool.stats();
            assertEquals(4, s.allocations());
            assertEquals(3, s.releases());
            assertEquals(4096, s.inUse());
            assertEquals(4096, s.highWater());
            assertEquals(0, s.failures());
        }
    }

    @Test
    void firstFitReusesTheEarliestHole() {
        try (CarvingMemoryPool pool = CarvingMemoryPool.create(device, 4096)) {
            DeviceBuffer a = pool.allocate(512);
            pool.allocate(512);
            long aAddress = a.address();
            pool.release(a);
            assertEquals(aAddress, pool.allocate(300).address());
        }
    }

    @Test
    void exhaustionSaysWhatWasAskedAndWhatIsLeft() {
        try (CarvingMemoryPool pool = CarvingMemoryPool.create(device, 2048)) {
            pool.allocate(1024);
            DeviceBuffer mid = pool.allocate(512);
            pool.allocate(256);
            pool.release(mid);
            PoolExhaustedException e = assertThrows(PoolExhaustedException.class, () -> pool.allocate(1000));
            String m = e.getMessage();
            assertTrue(m.contains("host:0"), m);
            assertTrue(m.contains("asked 1000 B"), m);
            assertTrue(m.contains("largest free block 512 B"), m);
            assertTrue(m.contains("1280 B (1.3 KiB) of 2048 B (2.0 KiB) in use"), m);
            assertTrue(m.contains("cohort.pool.capacity"), m);
            assertEquals(1, pool.stats().failures());
        }
    }

    @Test
    void doubleAndForeignReleasesThrow() {
        try (CarvingMemoryPool pool = CarvingMemoryPool.create(device, 2048);
             CarvingMemoryPool other = CarvingMemoryPool.create(device, 2048)) {
            DeviceBuffer a = pool.allocate(64);
            pool.release(a);
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> pool.release(a));
            assertTrue(twice.getMessage().contains("already released"), twice.getMessage());
            DeviceBuffer b = other.allocate(64);
            assertThrows(IllegalArgumentException.class, () -> pool.release(b));
            DeviceBuffer c = pool.allocate(512);
            assertThrows(IllegalArgumentException.class, () -> pool.release(c.slice(0, 256)), "slice of a block");
            assertThrows(IllegalArgumentException.class, () -> pool.release(device.allocate(64)), "raw device memory");
        }
    }

    @Test
    void pinnedPoolsComeFromPinnedHostMemory() {
        try (CarvingMemoryPool pool = CarvingMemoryPool.create(device, 1024, CarvingMemoryPool.Source.PINNED_HOST)) {
            assertTrue(pool.allocate(8).isHostAccessible());
            assertEquals(CarvingMemoryPool.Source.PINNED_HOST, pool.source());
        }
    }

    @Test
    void concurrentAllocationsNeverOverlap() throws Exception {
        try (CarvingMemoryPool pool = CarvingMemoryPool.create(device, 1 << 20)) {
            ExecutorService threads = Executors.newFixedThreadPool(4);
            ConcurrentLinkedQueue<DeviceBuffer> kept = new ConcurrentLinkedQueue<>();
            for (int t = 0; t < 4; t++) {
                threads.submit(() -> {
                    List<DeviceBuffer> mine = new ArrayList<>();
                    for (int i = 0; i < 500; i++) {
                        mine.add(pool.allocate(256 + (i % 7) * 100));
                        if (i % 3 == 0) {
                            pool.release(mine.removeFirst());
                        }
                    }
                    kept.addAll(mine);
                });
            }
            threads.shutdown();
            assertTrue(threads.awaitTermination(30, TimeUnit.SECONDS));
            List<DeviceBuffer> sorted = kept.stream().sorted((x, y) -> Long.compare(x.address(), y.address())).toList();
            for (int i = 1; i < sorted.size(); i++) {
                DeviceBuffer prev = sorted.get(i - 1);
                assertTrue(prev.address() + prev.byteSize() <= sorted.get(i).address(), "overlap at " + i);
                assertNotEquals(prev.address(), sorted.get(i).address());
            }
            long blocks = kept.stream().mapToLong(b -> (b.byteSize() + 255) / 256 * 256).sum();
            assertEquals(blocks, pool.stats().inUse());
        }
    }
}
