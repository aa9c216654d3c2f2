package io.cohort.model;

import io.cohort.core.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a safetensors file (for tests and {@code cohort model make-tiny}): tensors in the order added,
 * values given as floats and rounded (nearest-even) to the tensor's dtype. The header is padded with spaces
 * to a multiple of 8 bytes, as the format recommends, so the data section stays aligned.
 */
public final class SafetensorsWriter {
    private record Entry(DType dtype, long[] shape, float[] values) {
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = defaultMetadata();

    public SafetensorsWriter add(String name, DType dtype, long[] shape, float[] values) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (n != values.length) {
            throw new IllegalArgumentException(name + ": shape holds " + n + " elements, got " + values.length);
        }
        if (entries.putIfAbsent(name, new Entry(dtype, shape.clone(), values)) != null) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public static String safetensorsName(DType dtype) {
        return switch (dtype) {
            case F32 -> "F32";
            case F16 -> "F16";
            case BF16 -> "BF16";
        };
    }

    /** A tensor as the header declares it. */
    public record Declared(String name, DType dtype, long[] shape) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        public long bytes() {
            return elements() * dtype.bytes();
        }
    }

    /**
     * The header bytes (without the 8-byte length) of a file holding {@code tensors} in this order, data
     * back to back: shared with {@link StreamedSafetensorsWriter} so both write the same file.
     */
    static byte[] header(Map<String, String> metadata, Iterable<Declared> tensors) {
        StringBuilder header = new StringBuilder("{\"__metadata__\":{");
        String sep = "";
        for (var m : metadata.entrySet()) {
            header.append(sep).append(quote(m.getKey())).append(':').append(quote(m.getValue()));
            sep = ",";
        }
        header.append('}');
        long offset = 0;
        for (Declared t : tensors) {
            long bytes = t.bytes();
            header.append(',').append(quote(t.name())).append(":{\"dtype\":\"").append(safetensorsName(t.dtype()))
                    .append("\",\"shape\":[");
            for (int i = 0; i < t.shape().length; i++) {
                header.append(i == 0 ? "" : ",").append(t.shape()[i]);
            }
            header.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        header.append('}');
        while (header.length() % 8 != 0) {
            header.append(' ');
        }
        return header.toString().getBytes(StandardCharsets.UTF_8);
    }

    static Map<String, String> defaultMetadata() {
        return new LinkedHashMap<>(Map.of("format", "pt"));
    }

    public void write(Path path) {
        byte[] h = header(metadata, entries.entrySet().stream()
                .map(e -> new Declared(e.getKey(), e.getValue().dtype, e.getValue().shape)).toList());
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING); Arena arena = Arena.ofConfined()) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).flip();
            ch.write(len);
            ch.write(ByteBuffer.wrap(h));
            for (Entry t : entries.values()) {
                MemorySegment seg = arena.allocate(Math.max(1, (long) t.values.length * t.dtype.bytes()));
                for (int i = 0; i < t.values.length; i++) {
                    t.dtype.set(seg, i, t.values[i]);
                }
                ByteBuffer bb = seg.asSlice(0, (long) t.values.length * t.dtype.bytes()).asByteBuffer();
                while (bb.hasRemaining()) {
                    ch.write(bb);
                }
            }
        } catch (IOException e) {
            throw new ModelException("cannot write " + path + ": " + e.getMessage(), e);
        }
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
