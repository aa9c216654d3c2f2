package io.cohort.cli.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ModelCommandTest {
    @TempDir
    Path dir;

    private record Result(int code, String out, String err) {
    }

    private static Result cohort(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new ModelCommand());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    private static String firstTop(String output) {
        Matcher m = Pattern.compile("top: (.*)").matcher(output);
        assertTrue(m.find(), output);
        return m.group(1);
    }

    @Test
    void makeTinyThenRunWithTwoRanksMatchesOneRank() {
        Path model = dir.resolve("tiny");
        Result made = cohort("make-tiny", "--out", model.toString(), "--files", "2");
        assertEquals(0, made.code(), made.err());
        assertTrue(Files.exists(model.resolve("model.safetensors.index.json")));

        Result one = cohort("run", "--model-dir", model.toString(), "--tp", "1", "--devices", "host:1",
                "--tp-backend", "reference", "--tokens", "1,2,3", "--decode", "2");
        assertEquals(0, one.code(), one.err());
        assertTrue(one.out().contains("generated: ["), one.out());
        Result two = cohort("run", "--model-dir", model.toString(), "--tp", "2", "--devices", "host:2",
                "--tp-backend", "auto", "--tokens", "1,2,3", "--decode", "2");
        assertEquals(0, two.code(), two.err());
        // same greedy tokens; the printed logits (4 decimals) agree: tp only reorders f32 sums (≈1e-6)
        assertEquals(firstTop(one.out()).replaceAll("\\.\\d+", ""), firstTop(two.out()).replaceAll("\\.\\d+", ""));
        assertEquals(one.out().lines().filter(l -> l.startsWith("generated")).toList(),
                two.out().lines().filter(l -> l.startsWith("generated")).toList());
    }

    @Test
    void benchPrintsARowPerBackend() {
        Path model = dir.resolve("tiny");
        assertEquals(0, cohort("make-tiny", "--out", model.toString(), "--dtype", "f32").code());
        Result bench = cohort("bench", "--model-dir", model.toString(), "--tp", "2", "--devices", "host:2",
                "--backends", "reference,native,p2p", "--prompt-len", "8", "--decode", "2", "--warmup", "0", "--iters", "1");
        assertEquals(0, bench.code(), bench.err());
        for (String backend : new String[] {"reference", "native", "p2p"}) {
            assertTrue(bench.out().lines().anyMatch(l -> l.startsWith(backend + " ")), bench.out());
        }
    }

    @Test
    void tpNotDividingHeadsFailsWithTheReason() {
        Path model = dir.resolve("odd");
        assertEquals(0, cohort("make-tiny", "--out", model.toString(), "--hidden", "48", "--heads", "3",
                "--kv-heads", "3").code());
        Result r = cohort("run", "--model-dir", model.toString(), "--tp", "2", "--devices", "host:2",
                "--tp-backend", "reference", "--tokens", "1");
        assertTrue(r.code() != 0);
        assertTrue(r.err().contains("num_attention_heads = 3 is not divisible by 2"), r.err());
    }
}
