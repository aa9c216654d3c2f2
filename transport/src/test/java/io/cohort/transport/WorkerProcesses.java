package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.testing.ChildJvm;
import java.io.IOException;
import java.net.DatagramSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Worker JVMs ({@link TransportWorker}) of one test: each a rank, started with the same java and class path, their
 * output collected; a fresh driver base directory (under /dev/shm when possible) that is removed on close.
 */
final class WorkerProcesses implements AutoCloseable {

    static final long PROGRESS_TIMEOUT_MS = 5_000;

    final Path baseDir;
    final List<Worker> workers = new ArrayList<>();

    WorkerProcesses() throws IOException {
        Path shm = Path.of("/dev/shm");
        baseDir = Files.isDirectory(shm) && Files.isWritable(shm)
                ? Files.createTempDirectory(shm, "cohort-test-")
                : Files.createTempDirectory("cohort-test-");
    }

    Worker get(int i) {
        return workers.get(i);
    }

    @Override
    public void close() {
        for (Worker w : workers) {
            w.process.destroyForcibly();
        }
        AeronTransport.deleteRecursively(baseDir.toFile());
    }

    /** Runs {@code scenario} on n ranks and expects every one to pass; then nothing may be left in the base dir. */
    void runGroup(String group, int n, String channel, String scenario) throws Exception {
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
        try {
            for (Worker w : workers) {
                w.awaitExit(60);
                assertTrue(w.output().contains("COHORT OK"), w.describe());
            }
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\n" + dumpAll(), e);
        }
        assertNothingLeft();
    }

    /** Every worker's output, after asking the live ones for a thread dump (SIGQUIT): what a hang needs. */
    private String dumpAll() throws InterruptedException {
        for (Worker w : workers) {
            if (w.process.isAlive()) {
                try {
                    new ProcessBuilder("kill", "-QUIT", Long.toString(w.process.pid())).start().waitFor(5, TimeUnit.SECONDS);
                } catch (IOException ignored) {
                    // no kill command: the outputs alone must do
                }
            }
        }
        Thread.sleep(1_000);
        StringBuilder sb = new StringBuilder("--- every worker ---");
        for (Worker w : workers) {
            sb.append('\n').append("rank ").append(w.rank).append(" (exit ")
                    .append(w.process.isAlive() ? "running" : w.process.exitValue()).append("):\n").append(w.output());
        }
        return sb.toString();
    }

    void assertNothingLeft() {
        String[] left = baseDir.toFile().list();
        assertEquals(0, left == null ? 0 : left.length, "driver files left in " + baseDir + ": "
                + (left == null ? "" : String.join(", ", left)));
    }

    Worker start(String group, int rank, int size, String channel, String endpoints, String scenario)
            throws IOException {
        ChildJvm jvm = ChildJvm.start("worker-" + group + "-" + rank, "512m", List.of(), TransportWorker.class,
                List.of(group, Integer.toString(rank), Integer.toString(size), channel, baseDir.toString(), endpoints,
                        Long.toString(PROGRESS_TIMEOUT_MS), scenario));
        Worker w = new Worker(group, rank, jvm);
        workers.add(w);
        return w;
    }

    private static int freeUdpPort() throws IOException {
        try (DatagramSocket s = new DatagramSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A worker process ({@link ChildJvm}) and the lines it printed. */
    static final class Worker {
        final String group;
        final int rank;
        final Process process;
        private final ChildJvm jvm;

        Worker(String group, int rank, ChildJvm jvm) {
            this.group = group;
            this.rank = rank;
            this.jvm = jvm;
            this.process = jvm.process();
        }

        String await(String prefix, int seconds) throws InterruptedException {
            try {
                return jvm.await(l -> l.startsWith(prefix), "'" + prefix + "'", Duration.ofSeconds(seconds));
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage().lines().findFirst().orElse("") + " " + describe(), e);
            }
        }

        void awaitExit(int seconds) throws InterruptedException {
            int code;
            try {
                code = jvm.awaitExit(Duration.ofSeconds(seconds));
            } catch (AssertionError e) {
                throw new AssertionError("worker still running after " + seconds + " s: " + describe(), e);
            }
            assertEquals(0, code, describe());
        }

        String output() {
            return String.join("\n", jvm.lines());
        }

        String describe() {
            return "rank " + rank + " of " + group + " (exit " + (process.isAlive() ? "running" : process.exitValue())
                    + "):\n" + jvm.tail(l -> !l.contains(" DEBUG "));
        }
    }
}
