package io.cohort.cuda.nccl;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Where to look for libnccl.so.2, in order: {@code cohort.nccl.library}, the {@code NCCL_LIBRARY} environment
 * variable (each a file or a folder), the folders of {@code LD_LIBRARY_PATH} (the dynamic loader's order:
 * they override system folders), then {@code cohort.nccl.search-dirs}. Pure: the inputs are explicit, so
 * tests search fake folders.
 */
public record NcclLibraryLocator(List<Candidate> candidates) {

    public static final String LIBRARY_NAME = "libnccl.so.2";

    /** A path to try and where it came from (shown when nothing is found). */
    public record Candidate(Path path, String source) {
        @Override
        public String toString() {
            return path + " (" + source + ")";
        }
    }

    public NcclLibraryLocator {
        candidates = List.copyOf(candidates);
    }

    public static NcclLibraryLocator of(String configured, String ncclLibraryEnv, String ldLibraryPath,
                                        List<String> searchDirs) {
        List<Candidate> out = new ArrayList<>();
        Set<Path> seen = new LinkedHashSet<>();
        addFileOrDir(out, seen, configured, "cohort.nccl.library");
        addFileOrDir(out, seen, ncclLibraryEnv, "NCCL_LIBRARY");
        if (ldLibraryPath != null) {
            for (String dir : ldLibraryPath.split(File.pathSeparator)) {
                addDir(out, seen, dir, "LD_LIBRARY_PATH");
            }
        }
        for (String dir : searchDirs) {
            addDir(out, seen, dir, "cohort.nccl.search-dirs");
        }
        return new NcclLibraryLocator(out);
    }

    /** The search of {@code settings} in this process's environment. */
    public static NcclLibraryLocator fromEnvironment(NcclSettings settings) {
        return of(settings.library(), System.getenv("NCCL_LIBRARY"), System.getenv("LD_LIBRARY_PATH"),
                settings.searchDirs());
    }

    /** The first candidate that is a file. */
    public Path locate() {
        for (Candidate c : candidates) {
            if (Files.isRegularFile(c.path())) {
                return c.path();
            }
        }
        throw new NcclUnavailableException(notFoundMessage());
    }

    public String notFoundMessage() {
        StringBuilder sb = new StringBuilder("NCCL is not available: ").append(LIBRARY_NAME).append(" not found; searched");
        if (candidates.isEmpty()) {
            sb.append(" nothing (no cohort.nccl.library, NCCL_LIBRARY, LD_LIBRARY_PATH or cohort.nccl.search-dirs)");
        }
        for (Candidate c : candidates) {
            sb.append("\n  ").append(c);
        }
        return sb.append("\nInstall NCCL 2.x, or point cohort.nccl.library or NCCL_LIBRARY at ").append(LIBRARY_NAME)
                .append(" (e.g. the copy inside PyTorch's nvidia-nccl wheel).").toString();
    }

    private static void addFileOrDir(List<Candidate> out, Set<Path> seen, String value, String source) {
        if (value == null || value.isBlank()) {
            return;
        }
        Path p = Path.of(value.strip());
        add(out, seen, Files.isDirectory(p) ? p.resolve(LIBRARY_NAME) : p, source);
    }

    private static void addDir(List<Candidate> out, Set<Path> seen, String dir, String source) {
        if (dir == null || dir.isBlank()) {
            return;
        }
        add(out, seen, Path.of(dir.strip()).resolve(LIBRARY_NAME), source);
    }

    private static void add(List<Candidate> out, Set<Path> seen, Path path, String source) {
        if (seen.add(path.normalize())) {
            out.add(new Candidate(path, source));
        }
    }
}
