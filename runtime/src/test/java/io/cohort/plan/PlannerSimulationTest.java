package io.cohort.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Every planner, collective and small generated topology, simulated against the direct reference. */
class PlannerSimulationTest {

    static Topology nvlink(int n) {
        return Topology.uniform("nvlink-" + n, names(n), new Link(true, LinkKind.NVLINK, 18, 0, Double.NaN, Double.NaN));
    }

    static List<String> names(int n) {
        return IntStream.range(0, n).mapToObj(i -> "gpu" + i).toList();
    }

    static List<Topology> generated() {
        List<Topology> out = new ArrayList<>();
        for (int n = 1; n <= 8; n++) {
            out.add(nvlink(n));
            if (n >= 2) {
                out.add(nvlink(n).withoutP2p());
            }
        }
        return out;
    }

    @Test
    void everyPlannerMatchesTheReferenceOnGeneratedTopologies() {
        for (Topology t : generated()) {
            for (Algorithm a : Algorithm.values()) {
                for (Collective c : Collective.values()) {
                    for (long count : new long[] {0, 1, 5, 23}) {
                        for (long chunk : new long[] {0, 4}) {
                            int root = t.size() > 2 ? t.size() - 2 : 0;
                            PlanRequest req = new PlanRequest(c, t, count, c.rooted() ? root : 0, 3, chunk);
                            check(a, req, 3);
                        }
                    }
                }
            }
        }
    }

    static void check(Algorithm a, PlanRequest req, int seeds) {
        Plan plan = Planners.of(a).plan(req);
        String what = a + " " + req.collective() + " on " + req.topology().name() + " count " + req.count()
                + " chunk " + req.chunkElements() + " root " + req.root() + ": " + plan.description();
        try {
            PlanValidator.validate(plan, req.topology());
        } catch (PlanException e) {
            fail(what + ": " + e.getMessage(), e);
        }
        int n = req.ranks();
        Random data = new Random(42);
        for (ReduceOp op : req.collective().reduces() ? ReduceOp.values() : new ReduceOp[] {ReduceOp.SUM}) {
            for (boolean inPlace : inPlaceModes(req.collective())) {
                for (int seed = 0; seed < seeds; seed++) {
                    float[][] send = new float[n][(int) req.collective().sendCount(req.count(), n)];
                    for (float[] s : send) {
                        for (int i = 0; i < s.length; i++) {
                            s[i] = data.nextFloat() * 2 - 1;
                        }
                    }
                    PlanSimulator.Outcome out;
                    try {
                        out = new PlanSimulator(plan, req.topology()).run(send, op, DType.F32, inPlace, seed);
                    } catch (PlanException e) {
                        fail(what + " " + op + (inPlace ? " in place" : "") + ": " + e.getMessage(), e);
                        return;
                    }
                    double[][] expected = CollectiveReference.expected(req.collective(), op, send, req.count(), req.root());
                    for (int r = 0; r < n; r++) {
                        assertEquals(expected[r].length, out.recvOf(r).length, what + " rank " + r);
                        for (int i = 0; i < expected[r].length; i++) {
                            assertEquals(expected[r][i], out.recvOf(r)[i], 1e-5,
                                    what + " " + op + (inPlace ? " in place" : "") + " rank " + r + " element " + i);
                        }
                    }
                    if (req.collective() == Collective.ALL_REDUCE) {
                        for (int r = 1; r < n; r++) {
                            assertArrayEquals(out.recvOf(0), out.recvOf(r), what + " " + op + ": rank " + r
                                    + " differs in bits from rank 0");
                        }
                    }
                }
            }
        }
    }

    static boolean[] inPlaceModes(Collective c) {
        return c == Collective.ALL_REDUCE || c == Collective.REDUCE || c == Collective.BROADCAST
                ? new boolean[] {false, true} : new boolean[] {false};
    }
}
