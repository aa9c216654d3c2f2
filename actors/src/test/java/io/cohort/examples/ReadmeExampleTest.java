package io.cohort.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The README example, compiled and run in the actors module: its test class path holds the library modules
 * alone (runtime, cuda, actors and what they pull in), never the CLI, model, cluster or transport modules.
 */
class ReadmeExampleTest {

    @Test
    void runsOnTheLibraryModulesAlone() {
        for (String absent : java.util.List.of("io.cohort.cli.CohortCli", "io.cohort.nn.TensorOps",
                "io.cohort.cluster.ClusterCohort", "io.cohort.transport.ProcessGroup")) {
            org.junit.jupiter.api.Assertions.assertThrows(ClassNotFoundException.class, () -> Class.forName(absent),
                    absent + " is on the library class path");
        }
        assertEquals(10f, ReadmeExample.run(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
    }

    @Test
    void allReduceOfFourHostDevicesGivesTheSum() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        float first = ReadmeExample.run(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        assertEquals(10f, first);
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.startsWith("p2p: all-reduce of 1048576 x f32 on 4 devices -> 10.0 in "), out);
    }

    @Test
    void noCohortThreadsAreLeftAfterClose() throws InterruptedException {
        ReadmeExample.run(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        long deadline = System.currentTimeMillis() + 5_000;
        while (System.currentTimeMillis() < deadline && !cohortThreads().isEmpty()) {
            Thread.sleep(50);
        }
        assertEquals(java.util.List.of(), cohortThreads());
    }

    static java.util.List<String> cohortThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("cohort")).sorted().toList();
    }
}
