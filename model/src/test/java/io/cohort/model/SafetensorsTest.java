package io.cohort.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsNamesShapesDtypesAndValues() {
        float[] a = {1.5f, -2.25f, 3.0f, 0.1f, 1e-3f, -7f};
        float[] b = {0.333f, 65504f, -1e-4f};
        float[] c = {3.1415927f, -0.0f, 1e30f, 42f};
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter()
                .add("model.layers.0.mlp.up_proj.weight", DType.BF16, new long[] {2, 3}, a)
                .add("f16", DType.F16, new long[] {3}, b)
                .add("f32", DType.F32, new long[] {2, 2}, c)
                .metadata("note", "test")
                .write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(3, f.tensors().size());
            assertEquals("test", f.metadata().get("note"));
            TensorInfo up = f.info("model.layers.0.mlp.up_proj.weight");
            assertEquals(DType.BF16, up.dtype());
            assertArrayEquals(new long[] {2, 3}, up.shape());
            assertValues(f.bytes(up.name()), DType.BF16, a);
            assertEquals(DType.F16, f.info("f16").dtype());
            assertValues(f.bytes("f16"), DType.F16, b);
            assertValues(f.bytes("f32"), DType.F32, c);
        }
    }

    private static void assertValues(MemorySegment seg, DType dtype, float[] expected) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(dtype.round(expected[i]), dtype.get(seg, i), "element " + i);
        }
    }

    private Path raw(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, buf.array());
        return p;
    }

    private void assertMalformed(Path p, String expected) {
        ModelException e = assertThrows(ModelException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().contains("malformed safetensors file") && e.getMessage().contains(expected),
                e.getMessage());
    }

    @Test
    void truncatedFileIsRejected() throws IOException {
        Path p = dir.resolve("short.safetensors");
        Files.write(p, new byte[] {1, 2, 3});
        assertMalformed(p, "too short");
    }

    @Test
    void headerLongerThanFileIsRejected() throws IOException {
        Path p = dir.resolve("long.safetensors");
        ByteBuffer buf = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).putLong(0);
        Files.write(p, buf.array());
        assertMalformed(p, "header length 1000");
    }

    @Test
    void headerThatIsNotJsonIsRejected() throws IOException {
        assertMalformed(raw("{\"a\": [1, 2", 0), "not a JSON object");
    }

    @Test
    void dataOffsetsBeyondTheFileAreRejected() throws IOException {
        assertMalformed(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "outside the data section");
    }

    @Test
    void sizeThatDisagreesWithShapeIsRejected() throws IOException {
        assertMalformed(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16), "needs 12 bytes");
    }

    @Test
    void overlappingTensorsAreRejected() throws IOException {
        assertMalformed(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap");
    }

    @Test
    void missingFieldsAreRejected() throws IOException {
        assertMalformed(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "data_offsets");
    }

    @Test
    void unknownDtypeIsRejected() throws IOException {
        assertMalformed(raw("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2), "unknown dtype 'Q4'");
    }

    @Test
    void integerTensorsOpenButCannotBeComputedWith() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(raw("{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16))) {
            ModelException e = assertThrows(ModelException.class, () -> f.info("ids").dtype());
            assertTrue(e.getMessage().contains("I64"), e.getMessage());
        }
    }

    @Test
    void missingTensorNamesTheFile() {
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter().add("x", DType.F32, new long[] {1}, new float[] {1}).write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            ModelException e = assertThrows(ModelException.class, () -> f.info("y"));
            assertTrue(e.getMessage().contains("no tensor 'y'") && e.getMessage().contains("t.safetensors"), e.getMessage());
        }
    }
}
