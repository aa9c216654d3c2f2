package io.cohort.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The README example as a user runs it: a child JVM started with {@code java -cp <jars>} and no other flag
 * (no {@code --add-modules jdk.incubator.vector}, no {@code --enable-native-access}). It must print the
 * sum and say once, at INFO, which flag vectorises the host kernels.
 */
class ReadmeExamplePlainJavaTest {

    @Test
    void runsWithPlainJavaClassPathAndNamesTheVectorFlag() throws Exception {
        // the main classes and dependency jars of this module, without the test classes and their config
        String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(p -> !p.contains("test-classes") && !p.endsWith("-tests.jar") && !p.contains("surefire"))
                .collect(Collectors.joining(File.pathSeparator));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(List.of(java.toString(), "-cp", classPath, ReadmeExample.class.getName()))
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        boolean done = p.waitFor(120, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
        }
        assertTrue(done, "did not finish in 120 s:\n" + out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("p2p: all-reduce of 1048576 x f32 on 4 devices -> 10.0 in "), out);
        assertTrue(out.contains("start java with --add-modules jdk.incubator.vector"), out);
        assertTrue(!out.contains("NoClassDefFoundError"), out);
    }
}
