package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceFactory;
import io.cohort.device.DeviceKind;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("gpu")
class CudaDeviceTest {

    private final Random rnd = new Random();

    @Test
    void describesItself() {
        CudaDevice d = Gpu.device();
        assertEquals(DeviceKind.CUDA, d.kind());
        assertTrue(d.name().startsWith("cuda:0 ("), d.name());
        assertTrue(d.totalMemory() > d.freeMemory() && d.freeMemory() > 0);
        assertTrue(d.multiprocessors() > 0);
        assertTrue(d.computeCapability() >= 70, "compute capability " + d.computeCapability());
        assertTrue(d.pciBusId().matches("[0-9a-fA-F]+:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-9]"), d.pciBusId());
        assertSame(d, CudaDevices.open(0), "one instance per ordinal");
        System.out.println(d.name() + ": " + d.multiprocessors() + " SMs, cc " + d.computeCapability() + ", flags via "
                + d.flagOps() + ", PCI " + d.pciBusId());
    }

    @Test
    void serviceLoaderFindsTheCudaFactory() {
        Gpu.device();
        DeviceFactory f = ServiceLoader.load(DeviceFactory.class).stream().map(ServiceLoader.Provider::get)
                .filter(x -> x.kind() == DeviceKind.CUDA).findFirst().orElseThrow();
        assertTrue(f.available() >= 1);
        assertSame(CudaDevices.open(0), f.open(0));
    }

    @Test
    void roundTripsOddSizesAndOffsetsThroughDeviceAndPinnedMemory() {
        CudaDevice d = Gpu.device();
        try (Arena arena = Arena.ofConfined(); CudaStream s = d.createStream()) {
            for (long bytes : new long[]{1, 3, 17, 4096, 1_000_003}) {
                CudaBuffer a = d.allocate(bytes + 64);
                CudaBuffer b = d.allocate(bytes + 64);
                CudaBuffer pinned = d.allocatePinnedHost(bytes + 64);
                try {
                    MemorySegment src = Gpu.random(arena, DType.F32, (bytes + 3) / 4, rnd).asSlice(0, bytes);
                    s.copyFromHost(src, a, 5);
                    s.copy(a, 5, b, 33, bytes);                   // device -> device, odd offsets
                    s.copy(b.slice(33, bytes), 0, pinned, 7, bytes); // slice view -> pinned host
                    MemorySegment back = arena.allocate(bytes);
                    s.copyToHost(b, 33, back);
                    s.synchronize();
                    assertEquals(-1, src.mismatch(back), "device round trip of " + bytes + " bytes");
                    assertEquals(-1, src.mismatch(pinned.segment().asSlice(7, bytes)), "pinned copy of " + bytes + " bytes");
                    s.zero(b, 33, bytes);
                    s.copyToHost(b, 33, back);
                    s.synchronize();
                    assertEquals(-1, back.mismatch(arena.allocate(bytes)), "zeroed");
                } finally {
                    d.free(a);
                    d.free(b);
                    d.free(pinned);
                }
            }
        }
    }

    @Test
    void heapSegmentsCopyToo() {
        CudaDevice d = Gpu.device();
        CudaBuffer a = d.allocate(4000);
        try (CudaStream s = d.createStream()) {
            byte[] data = new byte[4000];
            rnd.nextBytes(data);
            s.copyFromHost(MemorySegment.ofArray(data), a, 0);
            byte[] back = new byte[4000];
            s.copyToHost(a, 0, MemorySegment.ofArray(back));
            s.synchronize();
            assertEquals(-1, MemorySegment.ofArray(data).mismatch(MemorySegment.ofArray(back)));
        } finally {
            d.free(a);
        }
    }

    @Test
    void errorsNameTheProblem() {
        CudaDevice d = Gpu.device();
        DeviceException oom = assertThrows(DeviceException.class, () -> d.allocate(1L << 50));
        assertTrue(oom.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY") && oom.getMessage().contains("cuda:0"), oom.getMessage());
        CudaBuffer a = d.allocate(1024);
        try (CudaStream s = d.createStream()) {
            DeviceException range = assertThrows(DeviceException.class, () -> s.copy(a, 1000, a, 0, 100));
            assertTrue(range.getMessage().contains("outside"), range.getMessage());
            assertThrows(DeviceException.class, () -> d.free(a.slice(0, 16)));
        }
        d.free(a);
        DeviceException twice = assertThrows(DeviceException.class, () -> d.free(a));
        assertTrue(twice.getMessage().contains("double free"), twice.getMessage());
    }

    @Test
    void eventsOrderStreams() {
        CudaDevice d = Gpu.device();
        CudaBuffer a = d.allocate(64 << 20);
        CudaBuffer b = d.allocate(64 << 20);
        try (Arena arena = Arena.ofConfined(); CudaStream s1 = d.createStream(); CudaStream s2 = d.createStream();
             CudaEvent e = d.createEvent()) {
            assertNotEquals(s1.nativeHandle(), s2.nativeHandle());
            assertTrue(s1.nativeHandle() != 0 && s1.deviceOrdinal() == 0);
            MemorySegment data = Gpu.random(arena, DType.F32, 16 << 20, rnd);
            s1.copyFromHost(data, a, 0);
            s1.record(e);
            s2.waitFor(e);
            s2.copy(a, 0, b, 0, 64 << 20);
            MemorySegment back = arena.allocate(64 << 20);
            s2.copyToHost(b, 0, back);
            s2.synchronize();
            assertTrue(e.isComplete());
            assertEquals(-1, data.mismatch(back));
        } finally {
            d.free(a);
            d.free(b);
        }
    }

    @Test
    void aCompletionEventSaysDoneOnlyOnceTheWorkBeforeItIsDone() {
        CudaDevice d = Gpu.device();
        CudaBuffer flag = d.allocatePinnedHost(64);
        try (CudaStream s = d.createStream(); CudaEvent e = d.createCompletionEvent()) {
            assertTrue(e.isComplete(), "never recorded");
            for (long round = 1; round <= 3; round++) {
                s.waitValue(flag, 0, round);   // the stream holds until the host sets the flag
                s.record(e);
                for (int i = 0; i < 3 * CudaEvent.DRIVER_QUERY_EVERY; i++) {
                    assertTrue(!e.isComplete(), "complete while the stream waits (round " + round + ", poll " + i + ")");
                }
                flag.segment().set(ValueLayout.JAVA_LONG, 0, round);
                e.synchronize(5_000_000_000L);
                assertTrue(e.isComplete());
            }
        } finally {
            d.free(flag);
        }
        // a closed event's word is handed out again: many events, few pages
        java.util.List<CudaEvent> events = new java.util.ArrayList<>();
        int afterFirst = 0;
        for (int i = 0; i < 3; i++) {
            for (int k = 0; k < 600; k++) {
                events.add(d.createCompletionEvent());
            }
            events.forEach(CudaEvent::close);
            events.clear();
            if (i == 0) {
                afterFirst = d.completionWords().pages();
            }
        }
        // other tests' events may hold words meanwhile; these three rounds of 600 need no page after the first
        assertEquals(afterFirst, d.completionWords().pages(), "pages grew while 600 events were made and closed again");
    }

    @Test
    void pinnedHostMemoryIsVisibleToTheHost() {
        CudaDevice d = Gpu.device();
        CudaBuffer p = d.allocatePinnedHost(4096);
        try {
            assertTrue(p.isHostAccessible());
            p.segment().set(ValueLayout.JAVA_LONG, 8, 42L);
            assertEquals(42L, p.slice(8, 8).segment().get(ValueLayout.JAVA_LONG, 0));
        } finally {
            d.free(p);
        }
    }
}
