package io.cohort.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.cli.CliTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every user mistake of issue 15 ends with exit code 1 and one line on stderr, no stack trace, no hang. */
class CliMistakesTest {

    @TempDir
    Path dir;

    private static void assertOneLine(Run run, String expected) {
        assertEquals(1, run.exitCode(), run.out() + run.err());
        assertEquals(expected + "\n", run.err(), run.out());
        assertFalse(run.out().contains("\tat ") || run.err().contains("\tat "), run.out() + run.err());
    }

    private Path conf(String name, String text) throws Exception {
        Path file = dir.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    @Test
    void modelBenchRefusesNonsenseCountsAndAnUnsplittableModelBeforeItsTable() {
        String model = dir.resolve("odd").toString();
        assertEquals(0, CliTest.cohort("model", "make-tiny", "--out", model, "--hidden", "48", "--heads", "3",
                "--kv-heads", "3").exitCode());
        assertOneLine(CliTest.cohort("model", "bench", "--model-dir", model, "--devices", "host:1", "--prompt-len", "0"),
                "error: --prompt-len must be at least 1, got 0");
        assertOneLine(CliTest.cohort("model", "bench", "--model-dir", model, "--devices", "host:1", "--iters", "0"),
                "error: --iters must be at least 1, got 0");
        Run odd = CliTest.cohort("model", "bench", "--model-dir", model, "--devices", "host:2", "--tp", "2");
        assertOneLine(odd, "error: cannot split the model over tp = 2 ranks: num_attention_heads = 3 is not divisible"
                + " by 2 (each rank needs whole heads / equal MLP slices)");
        assertFalse(odd.out().contains("prefill ms"), "no table header before the error: " + odd.out());
        Run missing = CliTest.cohort("model", "run", "--model-dir", dir.resolve("none").toString(), "--tokens", "1");
        assertOneLine(missing, "error: model directory " + dir.resolve("none") + " does not exist");
        assertFalse(missing.out().contains("devices:"), "no devices opened for it: " + missing.out());
    }

    @Test
    void aRootOutsideTheRanks() {
        assertOneLine(CliTest.cohort("bench", "--devices", "host:4", "--root", "9"),
                "error: --root 9 is not a rank of the 4 devices (0..3)");
        assertOneLine(CliTest.cohort("bench", "--devices", "host:4", "--root", "-1"),
                "error: --root must be a rank (>= 0), got -1");
    }

    @Test
    void tooManyHostDevicesAreRefusedAtOnceWithTheBound() {
        assertOneLine(CliTest.cohort("bench", "--devices", "host:100000"),
                "error: host:100000 asks for more host devices than the bound of 256 (cohort.host.max-devices)");
        assertOneLine(CliTest.cohort("selftest", "--devices", "host:100000"),
                "error: host:100000 asks for more host devices than the bound of 256 (cohort.host.max-devices)");
    }

    @Test
    void anUnknownCollectiveListsTheValidOnes() {
        assertOneLine(CliTest.cohort("bench", "--devices", "host:2", "--collectives", "allreduce2"),
                "error: unknown collective 'allreduce2' (expected all-reduce, reduce, broadcast, reduce-scatter, all-gather)");
    }

    @Test
    void anUnknownDtypeOpAndBackend() {
        assertOneLine(CliTest.cohort("bench", "--devices", "host:2", "--dtype", "f32,int8"),
                "error: unknown dtype 'int8' (expected f32, f16 or bf16)");
        assertOneLine(CliTest.cohort("bench", "--devices", "host:2", "--op", "prod"),
                "error: unknown reduce op 'prod' (expected sum, max, min or avg)");
        assertOneLine(CliTest.cohort("bench", "--devices", "host:2", "--backends", "nvlink"),
                "error: unknown backend 'nvlink' (expected auto, p2p, native or nccl)");
    }

    @Test
    void aPlotFileOfAnotherFormat() {
        assertOneLine(CliTest.cohort("bench", "--devices", "host:2", "--plot", "out.jpg"),
                "error: cannot plot to 'out.jpg': the file must end in .svg or .png");
        assertOneLine(CliTest.cohort("plot", "no/such.csv"), "error: no such file: no/such.csv");
    }

    @Test
    void anUnknownConfigKeyNamesTheNearestValidOneInEveryCommand() throws Exception {
        Path file = conf("typo.conf", "cohort.colective.timeout = 5s\n");
        String expected = "error: unknown config key cohort.colective.timeout (" + file
                + ": 1); did you mean cohort.collective.timeout?";
        for (List<String> command : List.of(List.of("bench"), List.of("selftest"), List.of("topo"),
                List.of("model", "run", "--model-dir", dir.toString(), "--tokens", "1"),
                List.of("node"), List.of("coordinator", "members"))) {
            String[] args = java.util.stream.Stream.concat(java.util.stream.Stream.of("--config", file.toString()),
                    command.stream()).toArray(String[]::new);
            assertOneLine(CliTest.cohort(args), expected);
        }
    }

    @Test
    void aWronglyTypedValueIsOneLineAndDoesNotHang() throws Exception {
        Path file = conf("typed.conf", "cohort {\n  collective.timeout = fast\n}\n");
        assertOneLine(CliTest.cohort("--config", file.toString(), "bench", "--devices", "host:2"),
                "error: config key cohort.collective.timeout = \"fast\" (" + file + ": 2) is not a duration (e.g. 30s)");
    }

    @Test
    void anInvalidEnumValue() throws Exception {
        Path file = conf("enum.conf", "cohort.backend.kind = nvlink\n");
        assertOneLine(CliTest.cohort("--config", file.toString(), "selftest", "--devices", "host:2"),
                "error: config key cohort.backend.kind = \"nvlink\" (" + file + ": 1) must be one of auto, p2p, native, nccl");
    }

    @Test
    void malformedHoconIsOneLineWithFileAndLine() throws Exception {
        Path file = conf("broken.conf", "cohort {\n  backend.kind = native\n  pool { capacity = 1G\n");
        assertOneLine(CliTest.cohort("--config", file.toString(), "bench"),
                "error: malformed config: " + file + ": 4: expecting a close parentheses ')' here, not: end of file");
        assertOneLine(CliTest.cohort("node", "--config", file.toString()),
                "error: config: " + file + ": 4: expecting a close parentheses ')' here, not: end of file");
    }

    @Test
    void aPoolTooSmallForTheLargestMessageSaysWhichKeyToRaise() throws Exception {
        Path file = conf("pool.conf", "cohort.pool.capacity = 1M\n");
        Run run = CliTest.cohort("--config", file.toString(), "bench", "--devices", "host:2", "--min-bytes", "4M",
                "--max-bytes", "4M");
        assertEquals(1, run.exitCode(), run.out() + run.err());
        assertTrue(run.err().startsWith("error: device pool of host:0 exhausted: asked 4194304 B (4.0 MiB)")
                && run.err().endsWith("(raise cohort.pool.capacity)\n") && run.err().lines().count() == 1,
                run.out() + run.err());
    }

    @Test
    void theConfigFilesBackendIsWhatBenchAndSelftestUse() throws Exception {
        Path file = conf("native.conf", "cohort.backend.kind = native\n");
        Run bench = CliTest.cohort("--config", file.toString(), "bench", "--devices", "host:2", "--max-bytes", "8K",
                "--iters", "2", "--warmup", "0", "--latency-calls", "3");
        assertEquals(0, bench.exitCode(), bench.out() + bench.err());
        assertTrue(bench.rows().stream().allMatch(r -> r.trim().split("\\s+")[5].equals("native")), bench.out());
        Run selftest = CliTest.cohort("--config", file.toString(), "selftest", "--devices", "host:2");
        assertTrue(selftest.out().contains("# backend native -> native"), selftest.out());
    }

    @Test
    void benchSizesTheHostPoolForTheLargestMessage() throws Exception {
        Path file = conf("auto.conf", "cohort.pool.capacity = auto\n"); // the tests' application.conf sets 48M
        Run run = CliTest.cohort("--config", file.toString(), "bench", "--devices", "host:2", "--min-bytes", "64M", "--max-bytes", "64M",
                "--iters", "1", "--warmup", "0", "--latency-calls", "3");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("# pool: 256M per device (3 x max-bytes + 64M; set cohort.pool.capacity to choose)"),
                run.out());
        assertEquals(1, run.rows().size(), run.out());
    }

    @Test
    void everyExampleConfigFilePassesTheCheck() throws Exception {
        Path conf = CliTest.repoRoot().resolve("conf");
        List<Path> files;
        try (var stream = Files.list(conf)) {
            files = new java.util.ArrayList<>(stream.filter(p -> p.toString().endsWith(".conf")).toList());
        }
        try (var stream = Files.list(conf.resolve("cluster"))) {
            files.addAll(stream.filter(p -> p.toString().endsWith(".conf")).toList());
        }
        assertTrue(files.size() >= 7, files.toString());
        for (Path file : files) {
            com.typesafe.config.Config c = io.cohort.config.ConfigValidator.parseFile(file.toFile())
                    .withFallback(com.typesafe.config.ConfigFactory.load()).resolve();
            io.cohort.config.ConfigValidator.check(c);
        }
    }
}
