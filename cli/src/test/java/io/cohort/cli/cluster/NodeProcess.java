package io.cohort.cli.cluster;

import io.cohort.cluster.*;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** A {@link ClusterWorker} JVM and the lines it printed (read on a thread so its pipe never fills). */
final class NodeProcess {
    final String name;
    final Process process;
    final List<String> lines = new CopyOnWriteArrayList<>();

    private NodeProcess(String name, Process process) {
        this.name = name;
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
        }, "node-output-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts {@code cohort node --config file args...} in a JVM like this one. */
    static NodeProcess start(String name, Path config, String... args) throws IOException {
        return start(name, config, java.util.Map.of(), args);
    }

    /** Like {@link #start(String, Path, String...)} with {@code env} added to the environment (e.g. passwords). */
    static NodeProcess start(String name, Path config, java.util.Map<String, String> env, String... args)
            throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener",
                "-cp", cp, ClusterWorker.class.getName(), "--config", config.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        return new NodeProcess(name, pb.start());
    }

    /** The first line containing {@code text}, waiting up to {@code seconds}. */
    String await(String text, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            for (String l : lines) {
                if (l.contains(text)) {
                    return l;
                }
            }
            if (!process.isAlive()) {
                Thread.sleep(200);
                for (String l : lines) {
                    if (l.contains(text)) {
                        return l;
                    }
                }
                fail(name + " exited (" + process.exitValue() + ") without '" + text + "':\n" + tail());
            }
            Thread.sleep(20);
        }
        fail("no '" + text + "' from " + name + " within " + seconds + " s:\n" + tail());
        return null;
    }

    int awaitExit(int seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            fail(name + " still running after " + seconds + " s:\n" + tail());
        }
        Thread.sleep(100);
        return process.exitValue();
    }

    String tail() {
        int from = Math.max(0, lines.size() - 40);
        return String.join("\n", lines.subList(from, lines.size()));
    }
}
