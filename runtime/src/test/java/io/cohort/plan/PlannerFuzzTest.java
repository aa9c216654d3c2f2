package io.cohort.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.cohort.core.Collective;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Random link matrices (asymmetric too), roots, counts and slices: every plan still validates and is exact. */
class PlannerFuzzTest {

    private static final Link NV = new Link(true, LinkKind.NVLINK, 8, 0, Double.NaN, Double.NaN);
    private static final Link PCIE = new Link(true, LinkKind.PCIE, 0, 1, Double.NaN, Double.NaN);
    private static final Link SYS = new Link(false, LinkKind.HOST_STAGED, 0, -1, Double.NaN, Double.NaN);

    static Topology random(Random rnd, int n, boolean symmetric) {
        Link[] choices = {NV, PCIE, SYS};
        Link[][] m = new Link[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (i == j) {
                    m[i][j] = Link.self();
                } else if (!symmetric || j > i) {
                    m[i][j] = choices[rnd.nextInt(choices.length)];
                } else {
                    m[i][j] = m[j][i];
                }
            }
        }
        return new Topology("random-" + n, IntStream.range(0, n).mapToObj(i -> "d" + i).toList(), m);
    }

    @Test
    void randomTopologies() {
        Random rnd = new Random(2026);
        for (int trial = 0; trial < 150; trial++) {
            int n = 2 + rnd.nextInt(5);
            Topology t = random(rnd, n, trial % 4 != 0);
            for (Algorithm a : Algorithm.values()) {
                Collective c = Collective.values()[rnd.nextInt(Collective.values().length)];
                long count = rnd.nextInt(20);
                long chunk = rnd.nextBoolean() ? 0 : 1 + rnd.nextInt(6);
                PlannerSimulationTest.check(a, new PlanRequest(c, t, count, rnd.nextInt(n), 2 + rnd.nextInt(3), chunk), 1);
            }
        }
    }

    @Test
    void moreRanksThanTheExhaustiveRingSearch() {
        Topology twelve = PlannerSimulationTest.nvlink(12);
        assertArrayEquals(IntStream.range(0, 12).toArray(), RingPlanner.ringOrder(twelve));
        for (Algorithm a : Algorithm.values()) {
            PlannerSimulationTest.check(a, new PlanRequest(Collective.ALL_REDUCE, twelve, 30, 0, 4, 0), 1);
            PlannerSimulationTest.check(a, new PlanRequest(Collective.REDUCE_SCATTER, twelve.withoutP2p(), 3, 0, 4, 2), 1);
        }
    }
}
