package io.cohort.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.Collective;
import io.cohort.topology.Topology;
import org.junit.jupiter.api.Test;

class PlanRequestTest {

    private static final Topology FOUR = PlannerSimulationTest.nvlink(4);

    private static String error(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    @Test
    void badRequestsNameTheProblem() {
        assertTrue(error(() -> new PlanRequest(Collective.ALL_REDUCE, FOUR, -1, 0, 2, 0)).contains("negative count -1"));
        assertTrue(error(() -> new PlanRequest(Collective.REDUCE, FOUR, 8, 4, 2, 0)).contains("root 4 outside 0..3"));
        assertTrue(error(() -> new PlanRequest(Collective.REDUCE, FOUR, 8, -1, 2, 0)).contains("root -1"));
        assertTrue(error(() -> new PlanRequest(Collective.ALL_REDUCE, FOUR, 8, 0, 1, 0)).contains("arity must be at least 2"));
        assertTrue(error(() -> new PlanRequest(Collective.ALL_REDUCE, FOUR, 8, 0, 2, -5)).contains("negative chunk"));
        assertTrue(error(() -> new PlanRequest(Collective.REDUCE_SCATTER, FOUR, Long.MAX_VALUE / 2, 0, 2, 0))
                .contains("too large"));
    }

    @Test
    void algorithmNamesParse() {
        assertEquals(Algorithm.BINARY_TREE, Algorithm.parse("tree"));
        assertEquals(Algorithm.ONE_SHOT, Algorithm.parse("one-shot"));
        assertEquals(Algorithm.KARY_TREE, Algorithm.parse("kary"));
        assertTrue(error(() -> Algorithm.parse("mesh")).contains("unknown algorithm 'mesh'"));
        for (Algorithm a : Algorithm.values()) {
            assertEquals(a, Algorithm.parse(a.cliName()));
            assertEquals(a, Planners.of(a).algorithm());
        }
    }

    @Test
    void tinyChunksOnLargeBuffersAreBounded() {
        Plan plan = Planners.plan(Algorithm.RING, new PlanRequest(Collective.BROADCAST, FOUR, 1 << 20, 0, 2, 1));
        assertTrue(plan.maxSignals() <= PlanBuilder.MAX_PIECES + 2, "signals " + plan.maxSignals());
        assertEquals(4, PlanBuilder.pieces(10, 3).length - 1);
        assertEquals(PlanBuilder.MAX_PIECES, PlanBuilder.pieces(1 << 20, 1).length - 1);
    }
}
