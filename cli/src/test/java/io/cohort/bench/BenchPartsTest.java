package io.cohort.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
                DType.F32, ReduceOp.SUM, 0, 8192, 1 << 20, 4, 1, 0);
        assertEquals(List.of(8192L, 32768L, 131072L, 524288L), s.sizes());
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
