package io.cohort.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * A test's child JVM: the same java and class path as the test, the flags Cohort needs (native access, the vector
 * module, the opens Aeron and Agrona use), its stdout and stderr read on a thread (so its pipe never fills) into
 * lines that {@link #await} waits for. A waiter is woken by each new line and by the end of the output, and gives
 * up at its deadline.
 */
public final class ChildJvm {

    private final String name;
    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private boolean ended;

    private ChildJvm(String name, Process process) {
        this.name = name;
        this.process = process;
        Thread reader = new Thread(this::read, "child-output-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Starts {@code main} with {@code args} in a JVM like this one, of {@code heap} (e.g. "256m"), with
     * {@code jvmFlags} after the common ones.
     */
    public static ChildJvm start(String name, String heap, List<String> jvmFlags, Class<?> main, List<String> args)
            throws IOException {
        return start(name, heap, jvmFlags, java.util.Map.of(), main, args);
    }

    /** Like {@link #start(String, String, List, Class, List)} with {@code env} added to the child's environment. */
    public static ChildJvm start(String name, String heap, List<String> jvmFlags, java.util.Map<String, String> env,
                                 Class<?> main, List<String> args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + heap, "-XX:+UseSerialGC",
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", cp, main.getName()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        return new ChildJvm(name, pb.start());
    }

    private void read() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                lock.lock();
                try {
                    lines.add(line);
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        } catch (IOException ignored) {
            // the process died: what it printed so far is kept
        } finally {
            lock.lock();
            try {
                ended = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    public String name() {
        return name;
    }

    public Process process() {
        return process;
    }

    /** What it printed so far. */
    public List<String> lines() {
        lock.lock();
        try {
            return List.copyOf(lines);
        } finally {
            lock.unlock();
        }
    }

    /**
     * The first line that matches ({@code what} names it in the error), waiting up to {@code timeout}; an
     * AssertionError with the output's tail if the JVM's output ends first or the time runs out.
     */
    public String await(Predicate<String> match, String what, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            int seen = 0;
            while (true) {
                for (; seen < lines.size(); seen++) {
                    if (match.test(lines.get(seen))) {
                        return lines.get(seen);
                    }
                }
                if (ended) {
                    throw new AssertionError(name + " exited" + exitCode() + " without " + what + ":\n" + tail());
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no " + what + " from " + name + " within " + timeout.toSeconds() + " s:\n"
                            + tail());
                }
                changed.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to {@code timeout} for the JVM to exit and its output to be read; its exit code. */
    public int awaitExit(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        if (!process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
            throw new AssertionError(name + " still running after " + timeout.toSeconds() + " s:\n" + tail()
                    + "\nthreads:\n" + threadDump());
        }
        lock.lock();
        try {
            while (!ended) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break; // exited; a grandchild may hold the pipe open: what was read is what there is
                }
                changed.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
        return process.exitValue();
    }

    /** The child's threads (jcmd Thread.print), for a failure message: what it is stuck on. */
    private String threadDump() {
        try {
            Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(process.pid()), "Thread.print").redirectErrorStream(true).start();
            String dump = new String(jcmd.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            jcmd.waitFor(10, TimeUnit.SECONDS);
            return dump;
        } catch (IOException | InterruptedException e) {
            return "(no thread dump: " + e + ")";
        }
    }

    private String exitCode() {
        return process.isAlive() ? "" : " (" + process.exitValue() + ")";
    }

    /** The last 40 lines printed that {@code keep} keeps. */
    public String tail(Predicate<String> keep) {
        List<String> kept = lines().stream().filter(keep).toList();
        return String.join("\n", kept.subList(Math.max(0, kept.size() - 40), kept.size()));
    }

    public String tail() {
        return tail(l -> true);
    }
}
