package io.cohort.cli.cluster;

import io.cohort.testing.ChildJvm;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A {@link ClusterWorker} JVM ({@link ChildJvm}) and the lines it printed. */
final class NodeProcess {
    final String name;
    final Process process;
    private final ChildJvm jvm;

    private NodeProcess(ChildJvm jvm) {
        this.jvm = jvm;
        this.name = jvm.name();
        this.process = jvm.process();
    }

    /** Starts {@code cohort node --config file args...} in a JVM like this one. */
    static NodeProcess start(String name, Path config, String... args) throws IOException {
        return start(name, config, java.util.Map.of(), args);
    }

    /** Like {@link #start(String, Path, String...)} with {@code env} added to the environment (e.g. passwords). */
    static NodeProcess start(String name, Path config, java.util.Map<String, String> env, String... args)
            throws IOException {
        List<String> all = new ArrayList<>(List.of("--config", config.toString()));
        all.addAll(List.of(args));
        return new NodeProcess(ChildJvm.start(name, "256m", List.of("-XX:TieredStopAtLevel=1"), env, ClusterWorker.class,
                all));
    }

    /** The first line containing {@code text}, waiting up to {@code seconds}. */
    String await(String text, int seconds) throws InterruptedException {
        return jvm.await(l -> l.contains(text), "'" + text + "'", Duration.ofSeconds(seconds));
    }

    int awaitExit(int seconds) throws InterruptedException {
        return jvm.awaitExit(Duration.ofSeconds(seconds));
    }

    /** Every line printed so far. */
    List<String> lines() {
        return jvm.lines();
    }

    String tail() {
        return jvm.tail();
    }
}
