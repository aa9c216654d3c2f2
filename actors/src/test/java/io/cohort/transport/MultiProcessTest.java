package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.DatagramSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two and three JVM processes on this host, one rank each ({@link TransportWorker}), through aeron:ipc and UDP on
 * 127.0.0.1: results against an independent reference, a killed rank named by the survivors, a fresh group after
 * a restart, and no driver files left behind.
 */
class MultiProcessTest {

    private static final long PROGRESS_TIMEOUT_MS = 5_000;

    private Path baseDir;
    private final List<Worker> workers = new ArrayList<>();

    @BeforeEach
    void createBaseDir() throws IOException {
        Path shm = Path.of("/dev/shm");
        baseDir = Files.isDirectory(shm) && Files.isWritable(shm)
                ? Files.createTempDirectory(shm, "cohort-test-")
                : Files.createTempDirectory("cohort-test-");
    }

    @AfterEach
    void cleanUp() {
        for (Worker w : workers) {
            w.process.destroyForcibly();
        }
        AeronTransport.deleteRecursively(baseDir.toFile());
    }

    @Test
    void ipcTwoProcesses() throws Exception {
        runGroup("mp-ipc2", 2, "ipc", "sweep");
    }

    @Test
    void ipcThreeProcesses() throws Exception {
        runGroup("mp-ipc3", 3, "ipc", "sweep");
    }

    @Test
    void udpTwoProcesses() throws Exception {
        runGroup("mp-udp2", 2, "udp", "sweep");
    }

    @Test
    void udpThreeProcesses() throws Exception {
        runGroup("mp-udp3", 3, "udp", "small");
    }

    @Test
    void killedRankIsNamedAndARestartedRankJoinsANewGroup() throws Exception {
        int n = 3;
        String group = "mp-kill";
        for (int r = 0; r < n; r++) {
            start(group, r, n, "ipc", "-", "loop-then-rejoin");
        }
        for (Worker w : workers) {
            w.await("COHORT READY", 30);
        }
        Worker victim = workers.get(2);
        victim.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        for (int r = 0; r < 2; r++) {
            String line = workers.get(r).await("COHORT FAILED", 20);
            assertTrue(line.contains("rank=2") && line.contains("rank 2"), "rank " + r + " should name rank 2: " + line);
        }
        // the killed rank restarts and, with the survivors, forms a new group
        Worker restarted = start(group + "-2", 2, n, "ipc", "-", "small");
        for (Worker w : List.of(workers.get(0), workers.get(1), restarted)) {
            w.awaitExit(40);
        }
        assertNothingLeft();
    }

    private void runGroup(String group, int n, String channel, String scenario) throws Exception {
        String endpoints = "-";
        if (channel.equals("udp")) {
            List<String> list = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                list.add("127.0.0.1:" + freeUdpPort());
            }
            endpoints = String.join(",", list);
        }
        for (int r = 0; r < n; r++) {
            start(group, r, n, channel, endpoints, scenario);
        }
        for (Worker w : workers) {
            w.awaitExit(60);
            assertTrue(w.output().contains("COHORT OK"), w.describe());
        }
        assertNothingLeft();
    }

    private void assertNothingLeft() {
        String[] left = baseDir.toFile().list();
        assertEquals(0, left == null ? 0 : left.length, "driver files left in " + baseDir + ": "
                + (left == null ? "" : String.join(", ", left)));
    }

    private Worker start(String group, int rank, int size, String channel, String endpoints, String scenario)
            throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = List.of(java, "-Xmx512m", "-XX:+UseSerialGC", "--enable-native-access=ALL-UNNAMED",
                "--add-modules", "jdk.incubator.vector", "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
                "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener",
                "-cp", cp, TransportWorker.class.getName(), group, Integer.toString(rank), Integer.toString(size), channel,
                baseDir.toString(), endpoints, Long.toString(PROGRESS_TIMEOUT_MS), scenario);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Worker w = new Worker(group, rank, p);
        workers.add(w);
        return w;
    }

    private static int freeUdpPort() throws IOException {
        try (DatagramSocket s = new DatagramSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A worker process and the lines it printed (read on a thread so its pipe never fills). */
    private static final class Worker {
        final String group;
        final int rank;
        final Process process;
        final List<String> lines = new CopyOnWriteArrayList<>();

        Worker(String group, int rank, Process process) {
            this.group = group;
            this.rank = rank;
            this.process = process;
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // the process died: what it printed so far is kept
                }
            }, "worker-output-" + group + "-" + rank);
            reader.setDaemon(true);
            reader.start();
        }

        String await(String prefix, int seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() < deadline) {
                for (String l : lines) {
                    if (l.startsWith(prefix)) {
                        return l;
                    }
                }
                if (!process.isAlive() && lines.stream().noneMatch(l -> l.startsWith(prefix))) {
                    Thread.sleep(100); // let the reader drain
                    for (String l : lines) {
                        if (l.startsWith(prefix)) {
                            return l;
                        }
                    }
                    fail("worker exited without '" + prefix + "': " + describe());
                }
                Thread.sleep(20);
            }
            fail("no '" + prefix + "' within " + seconds + " s: " + describe());
            return null;
        }

        void awaitExit(int seconds) throws InterruptedException {
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                fail("worker still running after " + seconds + " s: " + describe());
            }
            Thread.sleep(50);
            assertEquals(0, process.exitValue(), describe());
        }

        String output() {
            return String.join("\n", lines);
        }

        String describe() {
            List<String> tail = lines.stream().filter(l -> !l.contains(" DEBUG ")).collect(Collectors.toList());
            int from = Math.max(0, tail.size() - 40);
            return "rank " + rank + " of " + group + " (exit " + (process.isAlive() ? "running" : process.exitValue())
                    + "):\n" + String.join("\n", tail.subList(from, tail.size()));
        }
    }
}
