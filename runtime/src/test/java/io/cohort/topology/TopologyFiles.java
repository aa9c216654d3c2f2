package io.cohort.topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The topology files shipped in conf/topologies, found from the module or the repository directory. */
public final class TopologyFiles {

    private TopologyFiles() {
    }

    /** conf/topologies of the repository: searched upwards from the working directory. */
    public static Path directory() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("conf").resolve("topologies");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("conf/topologies not found above " + Path.of("").toAbsolutePath());
    }

    public static Path file(String name) {
        return directory().resolve(name + ".conf");
    }

    public static Topology load(String name) {
        return TopologyFile.read(file(name));
    }

    /** Every *.conf file, sorted by name. */
    public static List<Path> all() {
        try (Stream<Path> files = Files.list(directory())) {
            return files.filter(f -> f.getFileName().toString().endsWith(".conf")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
