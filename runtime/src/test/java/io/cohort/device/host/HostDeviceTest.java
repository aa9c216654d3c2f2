package io.cohort.device.host;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceEvent;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceStream;
import io.cohort.testing.RandomData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class HostDeviceTest {

    private static final int[] SIZES = {0, 1, 7, 33, 1009, 4099};

    private HostDevice device;
    private DeviceStream stream;

    @BeforeEach
    void open() {
        device = HostDevice.open(0, new HostDevice.Options(64L << 20, Duration.ofSeconds(10)));
        stream = device.createStream();
    }

    @AfterEach
    void close() {
        device.close();
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void reduceMatchesPairwiseReferenceBitForBit(DType dtype) {
        SplittableRandom random = new SplittableRandom(dtype.ordinal());
        for (ReduceOp op : ReduceOp.values()) {
            for (int n : SIZES) {
                float[] a = RandomData.uniform(random, dtype, n);
                float[] b = RandomData.uniform(random, dtype, n);
                // offsets by a few elements: the vector loop must not assume aligned starts
                int skew = 3;
                DeviceBuffer ba = device.allocate((n + skew) * 4L);
                DeviceBuffer bb = device.allocate((n + skew) * 4L);
                DeviceBuffer bd = device.allocate((n + skew) * 4L);
                RandomData.write(ba.slice(skew * dtype.bytes(), (long) n * dtype.bytes()), dtype, a);
                RandomData.write(bb, dtype, b);
                stream.reduce(dtype, op, ba, (long) skew * dtype.bytes(), bb, 0, bd, 0, n);
                stream.synchronize();
                float[] got = RandomData.read(bd, dtype, n);
                for (int i = 0; i < n; i++) {
                    float want = dtype.round((float) combine(op, a[i], b[i]));
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[i]),
                            dtype + " " + op + " n=" + n + " i=" + i + ": " + a[i] + " op " + b[i]);
                }
                device.free(ba);
                device.free(bb);
                device.free(bd);
            }
        }
    }

    /** Independent of ReduceOp.combine: the exact result in double (float+float is exact in double). */
    private static double combine(ReduceOp op, float a, float b) {
        return switch (op) {
            case SUM, AVG -> (double) a + (double) b;
            case MAX -> a >= b ? a : b;
            case MIN -> a <= b ? a : b;
        };
    }

    /** Ties, signed zeros, infinities, NaN, subnormals: the vector paths must round exactly like DType. */
    @ParameterizedTest
    @EnumSource(DType.class)
    void specialValuesRoundLikeTheScalarConversions(DType dtype) {
        float u = (float) (2 * dtype.unitRoundoff()); // spacing of values just above 1
        float[] specials = {1f, u / 2, 1f + u, u / 2, -0f, 0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
                Float.NaN, 3f, Float.MIN_NORMAL, Float.MIN_VALUE * 3, 65504f, 65504f, 1e-7f, -1e-7f, 0.1f, 0.2f,
                -2.5f, 2.5f, 1f / 3, 2f / 3, 1024f, 0.5f + u / 4, 7f, -7f, Float.MAX_VALUE, Float.MAX_VALUE, 1f, -1f,
                5.9604645e-8f, 5.9604645e-8f, 0.00006103515625f, -0.00006103515625f};
        int n = specials.length / 2 * 2;
        float[] a = new float[n / 2 * 4];
        float[] b = new float[a.length];
        for (int i = 0; i < a.length; i++) { // repeat the pairs so vector lanes and the scalar tail both see them
            a[i] = dtype.round(specials[(2 * i) % n]);
            b[i] = dtype.round(specials[(2 * i + 1) % n]);
        }
        DeviceBuffer ba = device.allocate(a.length * 4L);
        DeviceBuffer bb = device.allocate(a.length * 4L);
        DeviceBuffer bd = device.allocate(a.length * 4L);
        RandomData.write(ba, dtype, a);
        RandomData.write(bb, dtype, b);
        for (ReduceOp op : ReduceOp.values()) {
            stream.reduce(dtype, op, ba, 0, bb, 0, bd, 0, a.length);
            stream.synchronize();
            for (int i = 0; i < a.length; i++) {
                float want = dtype.round(op.combine(a[i], b[i]));
                float got = dtype.get(bd.segment(), i);
                if (Float.isNaN(want)) {
                    assertTrue(Float.isNaN(got), dtype + " " + op + " " + a[i] + ", " + b[i]);
                } else {
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got), dtype + " " + op + " " + a[i] + ", " + b[i]);
                }
            }
        }
        stream.scale(dtype, ba, 0, a.length, 0.1);
        stream.synchronize();
        for (int i = 0; i < a.length; i++) {
            float want = dtype.round(a[i] * 0.1f);
            float got = dtype.get(ba.segment(), i);
            assertTrue(Float.isNaN(want) ? Float.isNaN(got) : Float.floatToIntBits(want) == Float.floatToIntBits(got),
                    dtype + " scale " + a[i] + ": " + got + " != " + want);
        }
    }

    @Test
    void halfTypesRoundTiesToEven() {
        DeviceBuffer a = device.allocate(8);
        DeviceBuffer b = device.allocate(8);
        // bf16 has 8 significant bits: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 -> 1 (even);
        // (1 + 2^-7) + 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6 -> 1 + 2^-6 (even)
        DType.BF16.set(a.segment(), 0, 1f);
        DType.BF16.set(a.segment(), 1, 1f + 0x1p-7f);
        DType.BF16.set(b.segment(), 0, 0x1p-8f);
        DType.BF16.set(b.segment(), 1, 0x1p-8f);
        stream.reduce(DType.BF16, ReduceOp.SUM, a, 0, b, 0, a, 0, 2);
        stream.synchronize();
        assertEquals(1f, DType.BF16.get(a.segment(), 0));
        assertEquals(1f + 0x1p-6f, DType.BF16.get(a.segment(), 1));
        // f16: 11 bits, the same with 2^-11
        DType.F16.set(a.segment(), 0, 1f);
        DType.F16.set(a.segment(), 1, 1f + 0x1p-10f);
        DType.F16.set(b.segment(), 0, 0x1p-11f);
        DType.F16.set(b.segment(), 1, 0x1p-11f);
        stream.reduce(DType.F16, ReduceOp.SUM, a, 0, b, 0, a, 0, 2);
        stream.synchronize();
        assertEquals(1f, DType.F16.get(a.segment(), 0));
        assertEquals(1f + 0x1p-9f, DType.F16.get(a.segment(), 1));
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void reduceInPlaceAliasesOutputWithInput(DType dtype) {
        int n = 1009;
        float[] a = RandomData.uniform(new SplittableRandom(1), dtype, n);
        float[] b = RandomData.uniform(new SplittableRandom(2), dtype, n);
        DeviceBuffer ba = device.allocate(n * 4L);
        DeviceBuffer bb = device.allocate(n * 4L);
        RandomData.write(ba, dtype, a);
        RandomData.write(bb, dtype, b);
        stream.reduce(dtype, ReduceOp.SUM, ba, 0, bb, 0, ba, 0, n);
        stream.synchronize();
        float[] got = RandomData.read(ba, dtype, n);
        for (int i = 0; i < n; i++) {
            assertEquals(dtype.round((float) ((double) a[i] + b[i])), got[i], 0.0f, "i=" + i);
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void scaleMultipliesInFloatAndRoundsOnce(DType dtype) {
        for (int n : SIZES) {
            float[] x = RandomData.uniform(new SplittableRandom(n), dtype, n);
            DeviceBuffer buf = device.allocate(n * 4L + 8);
            RandomData.write(buf, dtype, x);
            stream.scale(dtype, buf, 0, n, 1.0 / 3);
            stream.synchronize();
            float[] got = RandomData.read(buf, dtype, n);
            for (int i = 0; i < n; i++) {
                assertEquals(dtype.round(x[i] * (float) (1.0 / 3)), got[i], 0.0f, dtype + " n=" + n + " i=" + i);
            }
            device.free(buf);
        }
    }

    @Test
    void copyZeroAndHostTransfers() {
        int n = 1000;
        MemorySegment host = Arena.ofAuto().allocate(n);
        for (int i = 0; i < n; i++) {
            host.set(ValueLayout.JAVA_BYTE, i, (byte) i);
        }
        DeviceBuffer a = device.allocate(n);
        DeviceBuffer b = device.allocate(n + 100);
        stream.copyFromHost(host, a, 0);
        stream.copy(a, 10, b, 100, n - 10);
        stream.zero(b, 100, 5);
        MemorySegment back = Arena.ofAuto().allocate(n);
        stream.copyToHost(b, 100, back);
        stream.synchronize();
        for (int i = 0; i < n - 10; i++) {
            assertEquals(i < 5 ? 0 : (byte) (i + 10), back.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
        }
    }

    @Test
    void buffersAre256ByteAlignedAndAccounted() {
        long before = device.freeMemory();
        DeviceBuffer a = device.allocate(1000);
        DeviceBuffer p = device.allocatePinnedHost(24);
        assertEquals(0, a.address() % 256);
        assertEquals(0, p.address() % 256);
        assertEquals(before - 1024, device.freeMemory());
        device.free(a);
        device.free(p);
        assertEquals(before, device.freeMemory());
        assertThrows(DeviceException.class, () -> device.free(a), "double free");
        DeviceException oom = assertThrows(DeviceException.class, () -> device.allocate(1L << 40));
        assertTrue(oom.getMessage().contains("out of memory"), oom.getMessage());
        DeviceBuffer c = device.allocate(512);
        assertThrows(DeviceException.class, () -> device.free(c.slice(0, 256)), "slices are not allocations");
    }

    @Test
    void enqueueChecksRangesAtOnce() {
        DeviceBuffer a = device.allocate(64);
        DeviceException e = assertThrows(DeviceException.class, () -> stream.copy(a, 0, a, 32, 64));
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
        assertThrows(DeviceException.class, () -> stream.writeValue(a, 4, 1), "misaligned flag");
    }

    @Test
    void flagsOrderWorkAcrossStreamsOfTwoDevices() {
        try (HostDevice other = HostDevice.open(1)) {
            DeviceStream s1 = other.createStream();
            DeviceBuffer flags = device.allocatePinnedHost(16);
            DeviceBuffer src = device.allocate(4096);
            DeviceBuffer dst = other.allocate(4096);
            // s1 waits for seq 7, then reads src: src is filled by stream before it signals 7
            s1.waitValue(flags, 8, 7);
            s1.copy(src, 0, dst, 0, 4096);
            stream.waitValue(flags, 0, 1); // gate held by the test thread, so s1 really waits
            for (int i = 0; i < 4096; i += 8) {
                stream.zero(src, i, 8);
            }
            stream.writeValue(flags, 8, 7);
            src.segment().fill((byte) 0x5a);
            gate(flags, 0, 1);
            s1.synchronize();
            stream.synchronize();
            for (int i = 0; i < 4096; i++) {
                assertEquals(0, dst.segment().get(ValueLayout.JAVA_BYTE, i));
            }
            assertEquals(7, flags.segment().get(ValueLayout.JAVA_LONG, 8));
        }
    }

    @Test
    void eventWaitCapturesTheRecordAtCallTime() {
        DeviceStream other = device.createStream();
        DeviceBuffer gates = device.allocatePinnedHost(16);
        DeviceEvent event = device.createEvent();
        assertTrue(event.isComplete(), "never recorded");
        stream.waitValue(gates, 0, 1);
        stream.record(event);
        assertFalse(event.isComplete());
        other.waitFor(event);               // waits for the first record only
        stream.waitValue(gates, 8, 1);
        stream.record(event);               // re-record: must not extend other's wait
        gate(gates, 0, 1);
        other.synchronize();                // returns although gate 8 is still closed
        assertFalse(event.isComplete());
        gate(gates, 8, 1);
        event.synchronize();
        assertTrue(event.isComplete());
    }

    @Test
    void failureSurfacesAtSynchronizeAndStopsTheStream() {
        DeviceBuffer gates = device.allocatePinnedHost(8);
        DeviceBuffer a = device.allocate(256);
        DeviceBuffer b = device.allocate(256);
        stream.waitValue(gates, 0, 1);
        stream.copy(a, 0, b, 0, 256);
        device.free(a); // the copy will run on freed memory
        gate(gates, 0, 1);
        DeviceException e = assertThrows(DeviceException.class, stream::synchronize);
        assertTrue(e.getMessage().contains("COPY failed"), e.getMessage());
        DeviceException refused = assertThrows(DeviceException.class, () -> stream.zero(b, 0, 8));
        assertTrue(refused.getMessage().contains("refuses work"), refused.getMessage());
        ((HostStream) stream).reset();
        stream.zero(b, 0, 8);
        stream.synchronize();
    }

    @Test
    void waitValueTimesOutNamingTheFlag() {
        try (HostDevice quick = HostDevice.open(3, new HostDevice.Options(1 << 20, Duration.ofMillis(100)))) {
            DeviceStream s = quick.createStream();
            HostBuffer flags = (HostBuffer) quick.allocatePinnedHost(32);
            flags.label("flags of rank 3");
            s.waitValue(flags, 16, 5);
            DeviceException e = assertThrows(DeviceException.class, s::synchronize);
            assertTrue(e.getMessage().contains("timed out after 100 ms"), e.getMessage());
            assertTrue(e.getMessage().contains("word 2"), e.getMessage());
            assertTrue(e.getMessage().contains("flags of rank 3"), e.getMessage());
            assertTrue(e.getMessage().contains("waiting for >= 5"), e.getMessage());
        }
    }

    @Test
    void manyCommandsWrapTheRing() {
        DeviceBuffer buf = device.allocate(4);
        DType t = DType.F32;
        t.set(buf.segment(), 0, 0f);
        DeviceBuffer one = device.allocate(4);
        t.set(one.segment(), 0, 1f);
        for (int i = 0; i < 5000; i++) {
            stream.reduce(t, ReduceOp.SUM, buf, 0, one, 0, buf, 0, 1);
        }
        stream.synchronize();
        assertEquals(5000f, t.get(buf.segment(), 0));
    }

    @Test
    void closeJoinsStreamThreads() {
        HostDevice d = HostDevice.open(7);
        d.createStream();
        d.createStream();
        assertTrue(streamThreads("host-7") >= 2);
        d.close();
        assertEquals(0, streamThreads("host-7"));
        assertThrows(DeviceException.class, () -> d.allocate(8));
    }

    @Test
    void peersAreAllHostDevices() {
        try (HostDevice other = HostDevice.open(1)) {
            assertTrue(device.canAccessPeer(other));
            device.enablePeerAccess(other);
            assertArrayEquals(new int[] {0, 1}, new int[] {device.ordinal(), other.ordinal()});
        }
    }

    @Test
    void optionsComeFromTheCohortConfigSection() {
        HostDevice.Options o = HostDevice.Options.from(com.typesafe.config.ConfigFactory.parseString(
                "host.memory = 64M\ncollective.timeout = 2s"));
        assertEquals(64L << 20, o.totalMemory());
        assertEquals(Duration.ofSeconds(2), o.waitTimeout());
        HostDevice.Options auto = HostDevice.Options.from(com.typesafe.config.ConfigFactory.empty());
        assertTrue(auto.totalMemory() >= 256L << 20);
        assertEquals(Duration.ofSeconds(30), auto.waitTimeout());
        assertEquals(HostWaitPolicy.defaults(), auto.waitPolicy());
        HostDevice.Options parking = HostDevice.Options.from(com.typesafe.config.ConfigFactory.parseString(
                "host.wait { spin = 0, yield = 0, min-park = 5us, max-park = 1ms }"));
        assertEquals(new HostWaitPolicy(Duration.ZERO, Duration.ZERO, Duration.ofNanos(5_000), Duration.ofMillis(1)),
                parking.waitPolicy());
        assertThrows(IllegalArgumentException.class,
                () -> new HostWaitPolicy(Duration.ZERO, Duration.ZERO, Duration.ofMillis(2), Duration.ofMillis(1)));
    }

    /**
     * Two streams hand a counter back and forth through flags and events, many times, under wait policies
     * that spin only, park at once, or mix: every wait phase must see the other side's progress.
     */
    @ParameterizedTest
    @ValueSource(strings = {"spin", "park", "default"})
    void pingPongUnderEveryWaitPolicy(String policy) {
        HostWaitPolicy wait = switch (policy) {
            case "spin" -> new HostWaitPolicy(Duration.ofMillis(2), Duration.ZERO, Duration.ofNanos(1_000), Duration.ofNanos(1_000));
            case "park" -> HostWaitPolicy.parkOnly();
            default -> HostWaitPolicy.defaults();
        };
        HostDevice.Options options = new HostDevice.Options(1 << 20, Duration.ofSeconds(20), wait);
        try (HostDevice a = HostDevice.open(5, options); HostDevice b = HostDevice.open(6, options)) {
            DeviceStream sa = a.createStream();
            DeviceStream sb = b.createStream();
            DeviceBuffer flags = a.allocatePinnedHost(16);
            DeviceBuffer counter = a.allocate(4);
            DeviceBuffer one = a.allocate(4);
            DType.F32.set(counter.segment(), 0, 0f);
            DType.F32.set(one.segment(), 0, 1f);
            DeviceEvent done = b.createEvent();
            int rounds = 300;
            for (int i = 1; i <= rounds; i++) {
                sa.reduce(DType.F32, ReduceOp.SUM, counter, 0, one, 0, counter, 0, 1);
                sa.writeValue(flags, 0, i);
                sb.waitValue(flags, 0, i);
                sb.reduce(DType.F32, ReduceOp.SUM, counter, 0, one, 0, counter, 0, 1);
                if (i % 3 == 0) {
                    sb.record(done);
                    sa.waitFor(done);
                } else {
                    sb.writeValue(flags, 8, i);
                    sa.waitValue(flags, 8, i);
                }
            }
            sa.synchronize();
            sb.synchronize();
            assertEquals(2f * rounds, DType.F32.get(counter.segment(), 0));
        }
    }

    private static long streamThreads(String name) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("cohort-" + name + "-stream")).count();
    }

    private static void gate(DeviceBuffer flags, long offset, long value) {
        flags.segment().set(ValueLayout.JAVA_LONG, offset, value);
    }
}
