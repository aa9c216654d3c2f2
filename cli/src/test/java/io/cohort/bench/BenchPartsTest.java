package io.cohort.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchPartsTest {

    @Test
    void byteSizes() {
        assertEquals(8192, ByteSizes.parse("8K"));
        assertEquals(64L << 20, ByteSizes.parse("64M"));
        assertEquals(1L << 30, ByteSizes.parse("1GiB"));
        assertEquals(1000, ByteSizes.parse("1000"));
        assertThrows(IllegalArgumentException.class, () -> ByteSizes.parse("8X"));
        assertThrows(IllegalArgumentException.class, () -> ByteSizes.parse("-1K"));
    }

    @Test
    void sizesGrowByTheFactorUpToTheMaximum() {
        BenchSpec s = new BenchSpec(List.of(BackendKind.AUTO), List.of(Collective.ALL_REDUCE), List.of("auto"),
                List.of(DType.F32), List.of(ReduceOp.SUM), 0, 8192, 1 << 20, 4, 1,
                new BenchSpec.Budget(0, java.time.Duration.ZERO), new BenchSpec.Budget(0, java.time.Duration.ZERO));
        assertEquals(List.of(8192L, 32768L, 131072L, 524288L), s.sizes());
    }

    @Test
    void aBudgetRunsAtLeastThreeCallsThenStopsAtItsCountOrTime() {
        BenchSpec.Budget b = new BenchSpec.Budget(2000, java.time.Duration.ofMillis(500));
        assertTrue(b.more(2, Long.MAX_VALUE));       // three calls whatever the time
        assertFalse(b.more(3, 500_000_000L));        // time is up
        assertTrue(b.more(1999, 499_999_999L));
        assertFalse(b.more(2000, 0));                // count is reached
    }

    @Test
    void percentilesAreRanksOfTheSortedSamples() {
        long[] nanos = new long[200];
        for (int i = 0; i < nanos.length; i++) {
            nanos[i] = (nanos.length - i) * 1000L; // 200 us .. 1 us, reversed
        }
        BenchRow.Latency l = BenchRow.Latency.of(nanos, nanos.length);
        assertEquals(100.0, l.p50Micros());  // 100th of 200
        assertEquals(198.0, l.p99Micros());  // 198th of 200
        assertNull(BenchRow.Latency.of(new long[0], 0));
    }

    @Test
    void csvRoundTripsEveryField(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        BenchRow a = new BenchRow(Collective.ALL_REDUCE, 8192, 2048, "f32", "sum", -1, "p2p", "p2p", "one-shot",
                new BenchRow.Run(12.5, 0.65, 0.98, 0), new BenchRow.Run(11.25, 0.72, 1.09, 0),
                new BenchRow.Latency(3.5, 9.25), new BenchRow.Latency(14.0, 30.5));
        BenchRow b = new BenchRow(Collective.ALL_GATHER, 8192, 2048, "bf16", "none", -1, "cluster", "cluster", "two-level",
                new BenchRow.Run(100, 0.08, 0.06, -1), null, null, new BenchRow.Latency(120, 180));
        java.nio.file.Path file = dir.resolve("run.csv");
        BenchCsv.write(file, List.of(a, b));
        assertEquals(List.of(a, b), BenchCsv.read(file));
        java.nio.file.Files.writeString(file, "size,time\n1,2\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchCsv.read(file));
        assertEquals(file + " is not a CSV written by cohort bench --csv (first line differs)", e.getMessage());
    }

    @Test
    void byteSizesFormatAsParseReadsThem() {
        assertEquals("256M", ByteSizes.format(256L << 20));
        assertEquals("8K", ByteSizes.format(8192));
        assertEquals("1000", ByteSizes.format(1000));
        assertEquals(3L << 30, ByteSizes.parse(ByteSizes.format(3L << 30)));
    }

    @Test
    void referenceValuesFollowNcclConventions() {
        int n = 3;
        // all-gather: block q of the output is rank q's input
        CollectiveCall ag = new CollectiveCall(Collective.ALL_GATHER, DType.F32, ReduceOp.SUM, 5, 0);
        assertEquals(Verifier.input(2, 1), Verifier.expected(ag, n, 0, 2 * 5 + 1));
        // reduce-scatter: rank r gets block r reduced over ranks
        CollectiveCall rs = new CollectiveCall(Collective.REDUCE_SCATTER, DType.F32, ReduceOp.MAX, 5, 0);
        double max = Math.max(Verifier.input(0, 7), Math.max(Verifier.input(1, 7), Verifier.input(2, 7)));
        assertEquals(max, Verifier.expected(rs, n, 1, 2));
        // avg divides once at the end
        CollectiveCall avg = new CollectiveCall(Collective.ALL_REDUCE, DType.F32, ReduceOp.AVG, 5, 0);
        double sum = Verifier.input(0, 4) + Verifier.input(1, 4) + Verifier.input(2, 4);
        assertEquals(sum / 3, Verifier.expected(avg, n, 2, 4), 1e-12);
        // broadcast: the root's input everywhere
        CollectiveCall bc = new CollectiveCall(Collective.BROADCAST, DType.F32, ReduceOp.SUM, 5, 2);
        assertEquals(Verifier.input(2, 3), Verifier.expected(bc, n, 0, 3));
    }
}
