package io.cohort.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in for a native library (NCCL, cuBLASLt), compiled at test time from a C source among the tests'
 * resources, so a java.lang.foreign binding can be checked without the real library or a GPU. The test is
 * skipped (an assumption) where no C compiler is found or the compile fails.
 */
public final class StandInLibrary {
    private StandInLibrary() {
    }

    /** Compiles resource {@code source} (beside {@code owner}) into {@code dir/soname}; returns that path. */
    public static Path compile(Class<?> owner, String source, Path dir, String soname)
            throws IOException, InterruptedException {
        Path src = dir.resolve(source);
        try (InputStream in = owner.getResourceAsStream(source)) {
            assumeTrue(in != null, source + " is not among " + owner.getPackageName() + "'s resources");
            Files.copy(in, src);
        }
        Path so = dir.resolve(soname);
        Process cc;
        try {
            cc = new ProcessBuilder("cc", "-shared", "-fPIC", "-O1", "-o", so.toString(), src.toString())
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "no C compiler: " + e.getMessage());
            return so;
        }
        String out = new String(cc.getInputStream().readAllBytes());
        assumeTrue(cc.waitFor(60, TimeUnit.SECONDS) && cc.exitValue() == 0, "cc failed: " + out);
        return so;
    }
}
