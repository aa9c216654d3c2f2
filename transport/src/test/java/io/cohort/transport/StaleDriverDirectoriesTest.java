package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.aeron.CncFileDescriptor;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import java.io.File;
import java.io.RandomAccessFile;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A driver directory whose driver's process is gone and whose heartbeat stopped is reclaimed; one whose process
 * lives, one with a fresh heartbeat, one without cnc.dat and one of another name are kept.
 */
class StaleDriverDirectoriesTest {

    @TempDir
    Path base;

    @Test
    void onlyDirectoriesWhoseOwnerIsProvablyGoneAreReclaimed() throws Exception {
        File dead = driverDirectory("cohort-dead-r0");
        File alive = driverDirectory("cohort-alive-r0"); // this process's pid, heartbeat stopped
        File other = driverDirectory("someone-else");
        File empty = base.resolve("cohort-empty").toFile();
        assertTrue(empty.mkdirs());
        writePid(dead, deadPid());
        writePid(other, deadPid());
        Thread.sleep(700); // heartbeats older than the 500 ms used here
        try (MediaDriver running = launch("cohort-running-r0")) {
            assertEquals(1, StaleDriverDirectories.reclaim(base.toFile(), 500));
            assertFalse(dead.exists(), "dead owner: reclaimed");
            assertTrue(alive.exists(), "live pid: kept");
            assertTrue(other.exists(), "not Cohort's: kept");
            assertTrue(empty.exists(), "no cnc.dat: kept");
            assertTrue(new File(running.aeronDirectoryName()).exists(), "fresh heartbeat: kept");
        }
    }

    @Test
    void startingADriverReclaimsWhatAKilledProcessLeft() throws Exception {
        File dead = driverDirectory("cohort-killed-r1");
        writePid(dead, deadPid());
        Thread.sleep(700);
        assertTrue(StaleDriverDirectories.whyStale(dead, 500).orElseThrow().contains("is gone"));
        // the next start of an embedded driver in that base directory reclaims it
        TransportConfig next = TransportConfig.defaults().withMember("next", 0, 2).withBaseDir(base.toString())
                .withUdp(java.util.List.of("127.0.0.1:1", "127.0.0.1:2"));
        try (AeronTransport t = AeronTransport.start(next)) {
            assertFalse(dead.exists(), "reclaimed at the next start");
            assertTrue(new File(t.directory()).exists());
        }
    }

    private File driverDirectory(String name) {
        MediaDriver driver = launch(name);
        String dir = driver.aeronDirectoryName();
        driver.close();
        return new File(dir);
    }

    private MediaDriver launch(String name) {
        return MediaDriver.launch(new MediaDriver.Context().aeronDirectoryName(base.resolve(name).toString())
                .dirDeleteOnStart(true).dirDeleteOnShutdown(false).threadingMode(ThreadingMode.SHARED)
                .termBufferSparseFile(true));
    }

    /** The pid of a process that has exited. */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    private static void writePid(File dir, long pid) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(new File(dir, CncFileDescriptor.CNC_FILE), "rw");
             FileChannel ch = f.getChannel()) {
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, CncFileDescriptor.META_DATA_LENGTH);
            map.order(ByteOrder.LITTLE_ENDIAN).putLong(CncFileDescriptor.PID_FIELD_OFFSET, pid);
            map.force();
        }
    }
}
