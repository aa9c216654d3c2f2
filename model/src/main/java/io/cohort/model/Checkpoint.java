package io.cohort.model;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A Hugging Face style model directory: {@code config.json} plus one or more {@code *.safetensors} files, named
 * by {@code model.safetensors.index.json}'s weight map when there is one, else every {@code *.safetensors} of the
 * directory. All files are memory-mapped; tensors are looked up by name across them.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final LlamaConfig config;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;

    private Checkpoint(Path dir, LlamaConfig config, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.dir = dir;
        this.config = config;
        this.files = files;
        this.byTensor = byTensor;
    }

    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new ModelException("model directory " + dir + " does not exist");
        }
        LlamaConfig config = LlamaConfig.read(dir.resolve("config.json"));
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile> byTensor = new TreeMap<>();
        try {
            Path index = dir.resolve(INDEX);
            if (Files.isRegularFile(index)) {
                Map<String, String> weightMap = readIndex(index);
                Map<String, SafetensorsFile> opened = new LinkedHashMap<>();
                for (var e : weightMap.entrySet()) {
                    SafetensorsFile f = opened.computeIfAbsent(e.getValue(), name -> {
                        Path p = dir.resolve(name);
                        if (!Files.isRegularFile(p)) {
                            throw new ModelException(index + " names " + name + ", which is not in " + dir);
                        }
                        SafetensorsFile sf = SafetensorsFile.open(p);
                        files.add(sf);
                        return sf;
                    });
                    if (!f.tensors().containsKey(e.getKey())) {
                        throw new ModelException(index + " places '" + e.getKey() + "' in " + e.getValue()
                                + ", which does not hold it");
                    }
                    byTensor.put(e.getKey(), f);
                }
            } else {
                List<Path> paths;
                try (Stream<Path> s = Files.list(dir)) {
                    paths = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
                }
                if (paths.isEmpty()) {
                    throw new ModelException("no *.safetensors files in " + dir);
                }
                for (Path p : paths) {
                    SafetensorsFile f = SafetensorsFile.open(p);
                    files.add(f);
                    for (String name : f.tensors().keySet()) {
                        SafetensorsFile prev = byTensor.put(name, f);
                        if (prev != null) {
                            throw new ModelException("tensor '" + name + "' is in both " + prev.path() + " and " + p);
                        }
                    }
                }
            }
        } catch (IOException e) {
            files.forEach(SafetensorsFile::close);
            throw new ModelException("cannot list " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new Checkpoint(dir, config, List.copyOf(files), byTensor);
    }

    private static Map<String, String> readIndex(Path index) {
        try {
            ConfigObject root = ConfigFactory.parseFile(index.toFile(),
                    ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON)).root();
            if (!(root.get("weight_map") instanceof ConfigObject map)) {
                throw new ModelException(index + " has no weight_map object");
            }
            Map<String, String> out = new TreeMap<>();
            for (String name : map.keySet()) {
                ConfigValue v = map.get(name);
                if (v.valueType() != ConfigValueType.STRING) {
                    throw new ModelException(index + ": weight_map entry '" + name + "' is not a file name");
                }
                out.put(name, (String) v.unwrapped());
            }
            return out;
        } catch (ConfigException e) {
            throw new ModelException(index + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    public Path dir() {
        return dir;
    }

    public LlamaConfig config() {
        return config;
    }

    public List<SafetensorsFile> files() {
        return files;
    }

    public boolean has(String name) {
        return byTensor.containsKey(name);
    }

    public TensorInfo info(String name) {
        return file(name).info(name);
    }

    public MemorySegment bytes(String name) {
        return file(name).bytes(name);
    }

    private SafetensorsFile file(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new ModelException("checkpoint " + dir + " has no tensor '" + name + "'");
        }
        return f;
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
