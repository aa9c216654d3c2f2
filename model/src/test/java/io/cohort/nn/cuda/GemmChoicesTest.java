package io.cohort.nn.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cohort.core.CohortException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The measured GEMM choices file: what it names is found, anything else is a miss, mistakes are one line. */
class GemmChoicesTest {
    @TempDir
    Path dir;

    private Path file(String text) throws Exception {
        Path f = dir.resolve("choices.conf");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void everyKindIsFoundByItsProductAndNothingElse() throws Exception {
        GemmChoices c = GemmChoices.load(file("""
                # written by GemvSweepBench
                choices = [
                  { n = 4096, k = 4096, rows = 1, kernel = gemv_v3 }
                  { n = 4096, k = 4096, rows = 2, kernel = gemv }
                  { n = 6144, k = 4096, rows = 8, kernel = tc_v5 }
                  { n = 128256, k = 4096, rows = 16, kernel = lt_a2 }
                  { n = 2048, k = 5632, rows = 4, kernel = cublas }
                ]
                """));
        assertEquals(5, c.size());
        int v = c.find(4096, 4096, 1);
        assertEquals(GemmChoices.Kind.GEMV_VARIANT, c.kind(v));
        assertEquals(3, c.index(v));
        assertEquals(GemmChoices.Kind.GEMV, c.kind(c.find(4096, 4096, 2)));
        int tc = c.find(6144, 4096, 8);
        assertEquals(GemmChoices.Kind.TC, c.kind(tc));
        assertEquals(5, c.index(tc));
        int lt = c.find(128256, 4096, 16);
        assertEquals(GemmChoices.Kind.LT, c.kind(lt));
        assertEquals(2, c.index(lt));
        assertEquals(GemmChoices.Kind.CUBLAS, c.kind(c.find(2048, 5632, 4)));
        for (int[] miss : new int[][] {{4096, 4096, 3}, {4096, 4095, 1}, {4095, 4096, 1}, {2048, 5632, 17},
                {2048, 5632, 0}, {1 << 24, 4096, 1}, {6144, 4096, 16}}) {
            assertEquals(-1, c.find(miss[0], miss[1], miss[2]), miss[0] + "x" + miss[1] + " rows " + miss[2]);
        }
    }

    @Test
    void mistakesNameTheFileAndTheEntry() throws Exception {
        Path missing = dir.resolve("none.conf");
        assertEquals("GEMM choices " + missing + " (cohort.nn.gemm-choices): no such file",
                assertThrows(CohortException.class, () -> GemmChoices.load(missing)).getMessage());
        Path unknown = file("choices = [{ n = 8, k = 8, rows = 1, kernel = fastest }]");
        assertEquals("GEMM choices " + unknown + ", entry 0: unknown kernel 'fastest' (cublas, gemv, gemv_v<i>, "
                + "tc_v<i> or lt_a<i>)", assertThrows(CohortException.class, () -> GemmChoices.load(unknown)).getMessage());
        Path rows = file("choices = [{ n = 8, k = 8, rows = 1, kernel = gemv }, { n = 8, k = 8, rows = 17, kernel = gemv }]");
        assertEquals("GEMM choices " + rows + ", entry 1: n 8, k 8, rows 17 (want n, k in 1..2^24 - 1, rows in 1..16)",
                assertThrows(CohortException.class, () -> GemmChoices.load(rows)).getMessage());
        Path twice = file("choices = [{ n = 8, k = 8, rows = 1, kernel = gemv }, { n = 8, k = 8, rows = 1, kernel = cublas }]");
        assertEquals("GEMM choices " + twice + ": entries 0 and 1 name the same product",
                assertThrows(CohortException.class, () -> GemmChoices.load(twice)).getMessage());
        Path noKernel = file("choices = [{ n = 8, k = 8, rows = 1 }]");
        String message = assertThrows(CohortException.class, () -> GemmChoices.load(noKernel)).getMessage();
        assertEquals(true, message.startsWith("GEMM choices " + noKernel + ", entry 0: ") && message.contains("kernel"),
                message);
    }
}
