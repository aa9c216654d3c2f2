package io.cohort.cuda.nccl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Random;
import org.junit.jupiter.api.Test;

class NcclUniqueIdTest {

    private static byte[] randomBytes(long seed) {
        byte[] b = new byte[NcclUniqueId.BYTES];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void base64RoundTrip() {
        NcclUniqueId id = new NcclUniqueId(randomBytes(1));
        String text = id.toBase64();
        assertEquals(172, text.length(), "128 bytes in base64");
        assertEquals(id, NcclUniqueId.fromBase64(text));
        assertArrayEquals(randomBytes(1), NcclUniqueId.fromBase64(" " + text + "\n").bytes());
    }

    @Test
    void segmentRoundTripIsWhatNcclReadsAndWrites() {
        NcclUniqueId id = new NcclUniqueId(randomBytes(2));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(NcclLibrary.UNIQUE_ID);
            assertEquals(128, seg.byteSize(), "ncclUniqueId is a 128-byte struct");
            id.writeTo(seg);
            assertEquals(id, NcclUniqueId.read(seg));
        }
    }

    @Test
    void generatedByNccl() {
        NcclUniqueId id = NcclUniqueId.generate(new FakeNccl(new ArrayList<>()));
        assertEquals(1, id.bytes()[0]);
        assertEquals(8, id.bytes()[1]);
    }

    @Test
    void immutableAndComparedByContent() {
        byte[] raw = randomBytes(3);
        NcclUniqueId id = new NcclUniqueId(raw);
        raw[0]++;
        id.bytes()[1]++;
        assertArrayEquals(randomBytes(3), id.bytes());
        assertEquals(new NcclUniqueId(randomBytes(3)).hashCode(), id.hashCode());
        assertNotEquals(new NcclUniqueId(randomBytes(4)), id);
    }

    @Test
    void wrongSizesAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> new NcclUniqueId(new byte[64]));
        assertTrue(e.getMessage().contains("128 bytes, not 64"));
        assertThrows(IllegalArgumentException.class, () -> NcclUniqueId.fromBase64("not base64!"));
    }
}
