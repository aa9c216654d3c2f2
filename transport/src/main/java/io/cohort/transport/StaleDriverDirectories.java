package io.cohort.transport;

import io.aeron.CncFileDescriptor;
import io.aeron.CommonContext;
import java.io.File;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Embedded drivers' directories ({@code cohort-*} under the base directory) that a process killed with -9 left
 * behind: tens of MB each in /dev/shm. One is reclaimed at the next start only when its owner is provably gone:
 * the driver's heartbeat in {@code cnc.dat} is older than the timeout <em>and</em> the process id recorded there
 * is not alive. Anything else (no cnc.dat, a live pid, a fresh heartbeat, another name) is left alone.
 */
final class StaleDriverDirectories {

    private static final Logger LOG = LoggerFactory.getLogger(StaleDriverDirectories.class);

    private StaleDriverDirectories() {
    }

    /** Deletes the stale {@code cohort-*} directories in {@code base}; returns how many. */
    static int reclaim(File base, long heartbeatTimeoutMs) {
        File[] dirs = base.listFiles(f -> f.isDirectory() && f.getName().startsWith("cohort-"));
        if (dirs == null) {
            return 0;
        }
        int reclaimed = 0;
        for (File dir : dirs) {
            Optional<String> why = whyStale(dir, heartbeatTimeoutMs);
            if (why.isPresent()) {
                long bytes = size(dir.toPath());
                AeronTransport.deleteRecursively(dir);
                if (!dir.exists()) {
                    reclaimed++;
                    LOG.info("reclaimed the stale Aeron directory {} ({} MB): {}", dir, bytes >> 20, why.get());
                }
            }
        }
        return reclaimed;
    }

    /** Why {@code dir}'s owner is provably gone, or empty if it may be alive (or it cannot be told). */
    static Optional<String> whyStale(File dir, long heartbeatTimeoutMs) {
        File cnc = new File(dir, CncFileDescriptor.CNC_FILE);
        if (!cnc.isFile() || cnc.length() < CncFileDescriptor.META_DATA_LENGTH) {
            return Optional.empty();
        }
        long pid;
        try (FileChannel ch = FileChannel.open(cnc.toPath(), StandardOpenOption.READ)) {
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, CncFileDescriptor.META_DATA_LENGTH);
            pid = CncFileDescriptor.pid(CncFileDescriptor.createMetaDataBuffer(map));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        if (pid <= 0 || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            return Optional.empty();
        }
        try {
            if (CommonContext.isDriverActive(dir, heartbeatTimeoutMs, msg -> { })) {
                return Optional.empty();
            }
        } catch (RuntimeException e) {
            return Optional.empty(); // unreadable: not provably stale
        }
        return Optional.of("its driver (pid " + pid + ") is gone and its heartbeat is older than "
                + heartbeatTimeoutMs + " ms");
    }

    private static long size(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            return 0;
        }
    }
}
