package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
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
    static final class Worker {
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
