package io.cohort.model;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header mapping tensor names to
 * {@code {dtype, shape, data_offsets}}, then the raw little-endian data. Nothing is read up front but the header:
 * tensors are views of the mapping, so loading copies each rank's slice straight from the page cache.
 * Every offset and size is checked against the file, so a truncated or corrupt file fails here, naming itself.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Headers beyond this are rejected as corrupt (the format's reference implementation uses 100 MB). */
    static final long MAX_HEADER = 100_000_000L;

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Map<String, TensorInfo> tensors,
                            Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw bad(path, "file of " + size + " bytes is too short for a header");
            }
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
                throw bad(path, "header length " + headerLen + " does not fit a file of " + size + " bytes");
            }
            String json = new String(all.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            MemorySegment data = all.asSlice(8 + headerLen);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(path, json, data.byteSize(), metadata);
            return new SafetensorsFile(path, arena, data, tensors, metadata);
        } catch (IOException e) {
            arena.close();
            throw new ModelException("cannot read " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, TensorInfo> parseHeader(Path path, String json, long dataSize,
                                                       Map<String, String> metadata) {
        ConfigObject root;
        try {
            root = ConfigFactory.parseString(json, ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON)).root();
        } catch (ConfigException e) {
            throw bad(path, "header is not a JSON object: " + e.getMessage());
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        List<String> names = new ArrayList<>(root.keySet());
        Collections.sort(names);
        for (String name : names) {
            ConfigValue v = root.get(name);
            if (name.equals("__metadata__")) {
                if (v instanceof ConfigObject meta) {
                    meta.forEach((k, mv) -> metadata.put(k, String.valueOf(mv.unwrapped())));
                }
                continue;
            }
            if (!(v instanceof ConfigObject entry)) {
                throw bad(path, "header entry '" + name + "' is not an object");
            }
            tensors.put(name, parseEntry(path, name, entry, dataSize));
        }
        checkOverlaps(path, tensors);
        return Collections.unmodifiableMap(tensors);
    }

    private static TensorInfo parseEntry(Path path, String name, ConfigObject entry, long dataSize) {
        ConfigValue dtype = entry.get("dtype");
        ConfigValue shape = entry.get("shape");
        ConfigValue offsets = entry.get("data_offsets");
        if (dtype == null || dtype.valueType() != ConfigValueType.STRING || !(shape instanceof ConfigList shapeList)
                || !(offsets instanceof ConfigList offsetList) || offsetList.size() != 2) {
            throw bad(path, "tensor '" + name + "' needs dtype (string), shape (list) and data_offsets ([begin, end])");
        }
        String dtypeName = (String) dtype.unwrapped();
        long[] dims = new long[shapeList.size()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = number(path, name, "shape", shapeList.get(i));
            if (dims[i] < 0) {
                throw bad(path, "tensor '" + name + "' has a negative dimension");
            }
        }
        long begin = number(path, name, "data_offsets", offsetList.get(0));
        long end = number(path, name, "data_offsets", offsetList.get(1));
        if (begin < 0 || end < begin || end > dataSize) {
            throw bad(path, "tensor '" + name + "' has data_offsets [" + begin + ", " + end
                    + "] outside the data section of " + dataSize + " bytes (truncated file?)");
        }
        TensorInfo info = new TensorInfo(name, dtypeName, dims, begin, end);
        int elem = TensorInfo.elementBytes(dtypeName);
        if (elem < 0) {
            throw bad(path, "tensor '" + name + "' has unknown dtype '" + dtypeName + "'");
        }
        long expected;
        try {
            expected = Math.multiplyExact(info.elements(), elem);
        } catch (ArithmeticException e) {
            throw bad(path, "tensor '" + name + "' shape " + info.shapeString() + " overflows");
        }
        if (expected != end - begin) {
            throw bad(path, "tensor '" + name + "' " + dtypeName + info.shapeString() + " needs " + expected
                    + " bytes but data_offsets span " + (end - begin));
        }
        return info;
    }

    private static long number(Path path, String name, String field, ConfigValue v) {
        if (v.valueType() != ConfigValueType.NUMBER) {
            throw bad(path, "tensor '" + name + "': " + field + " holds a non-number " + v.render());
        }
        Number n = (Number) v.unwrapped();
        if (n instanceof Double) {
            throw bad(path, "tensor '" + name + "': " + field + " holds a non-integer " + v.render());
        }
        return n.longValue();
    }

    private static void checkOverlaps(Path path, Map<String, TensorInfo> tensors) {
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorInfo prev = byOffset.get(i - 1), cur = byOffset.get(i);
            if (cur.begin() < prev.end()) {
                throw bad(path, "tensors '" + prev.name() + "' and '" + cur.name() + "' overlap");
            }
        }
    }

    private static ModelException bad(Path path, String what) {
        return new ModelException("malformed safetensors file " + path + ": " + what);
    }

    public Path path() {
        return path;
    }

    /** Tensors by name (sorted by name). */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new ModelException(path + " has no tensor '" + name + "'");
        }
        return t;
    }

    /** The bytes of tensor {@code name}: a read-only view of the mapping. */
    public MemorySegment bytes(String name) {
        TensorInfo t = info(name);
        return data.asSlice(t.begin(), t.byteSize());
    }

    @Override
    public void close() {
        arena.close();
    }
}
