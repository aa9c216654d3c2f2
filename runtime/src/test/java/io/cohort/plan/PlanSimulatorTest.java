package io.cohort.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The simulator's checks fire: races, missing end waits, deadlocks, missing links, overruns, undefined reads. */
class PlanSimulatorTest {

    private static final Topology TWO = PlannerSimulationTest.nvlink(2);

    private static Plan plan(Collective c, List<List<Step>> steps, long scratch) {
        return new Plan(c, Algorithm.ONE_SHOT, steps.size(), 0, 4, steps, scratch, 0, "hand-made");
    }

    private static float[][] ones(int n, int len) {
        float[][] s = new float[n][len];
        for (float[] a : s) {
            java.util.Arrays.fill(a, 1f);
        }
        return s;
    }

    private static PlanException failure(Plan p, Topology t) {
        return assertThrows(PlanException.class, () -> new PlanSimulator(p, t).run(ones(p.ranks(), 8), ReduceOp.SUM,
                DType.F32, false, 1));
    }

    @Test
    void readingAPeerWithoutWaitingForItsStartIsARace() {
        // rank 1 copies rank 0's send without waiting: rank 0's caller may still be writing it
        Plan p = plan(Collective.BROADCAST, List.of(
                List.of(new Step.Copy(BufferRef.send(0, 0), BufferRef.recv(0, 0), 4)),
                List.of(new Step.Copy(BufferRef.send(0, 0), BufferRef.recv(1, 0), 4))), 0);
        assertTrue(failure(p, TWO).getMessage().contains("race"));
    }

    @Test
    void finishingWhileAPeerStillReadsIsARace() {
        Plan p = plan(Collective.BROADCAST, List.of(
                List.of(new Step.Signal(0), new Step.Copy(BufferRef.send(0, 0), BufferRef.recv(0, 0), 4)),
                List.of(new Step.Wait(0, 0), new Step.Copy(BufferRef.send(0, 0), BufferRef.recv(1, 0), 4))), 0);
        assertTrue(failure(p, TWO).getMessage().contains("race"), "rank 0 overwrites/ends while rank 1 reads");
        Plan ok = plan(Collective.BROADCAST, List.of(
                List.of(new Step.Signal(0), new Step.Wait(1, 0), new Step.Copy(BufferRef.send(0, 0), BufferRef.recv(0, 0), 4)),
                List.of(new Step.Wait(0, 0), new Step.Copy(BufferRef.send(0, 0), BufferRef.recv(1, 0), 4),
                        new Step.Signal(0))), 0);
        PlanSimulator.Outcome out = new PlanSimulator(ok, TWO).run(ones(2, 4), ReduceOp.SUM, DType.F32, true, 3);
        assertEquals(1f, out.recvOf(1)[3]);
    }

    @Test
    void deadlockIsReported() {
        Plan p = plan(Collective.ALL_REDUCE, List.of(
                List.of(new Step.Wait(1, 0), new Step.Signal(0)),
                List.of(new Step.Wait(0, 0), new Step.Signal(0))), 0);
        assertTrue(failure(p, TWO).getMessage().contains("deadlock"));
        assertTrue(assertThrows(PlanException.class, () -> PlanValidator.validate(p, TWO)).getMessage()
                .contains("deadlock"));
    }

    @Test
    void touchingAPeerWithoutP2pIsRefused() {
        Topology none = TWO.withoutP2p();
        Plan p = plan(Collective.ALL_GATHER, List.of(
                List.of(new Step.Signal(0)),
                List.of(new Step.Wait(0, 0), new Step.Copy(BufferRef.send(0, 0), BufferRef.recv(1, 0), 4))), 0);
        assertTrue(failure(p, none).getMessage().contains("no P2P"));
        assertTrue(assertThrows(PlanException.class, () -> PlanValidator.validate(p, none)).getMessage()
                .contains("no P2P"));
    }

    @Test
    void overrunsAndUndefinedReadsAreReported() {
        Plan over = plan(Collective.ALL_REDUCE, List.of(
                List.of(new Step.Copy(BufferRef.send(0, 2), BufferRef.recv(0, 2), 4)),
                List.of(new Step.Copy(BufferRef.send(1, 0), BufferRef.recv(1, 0), 4))), 0);
        assertTrue(failure(over, TWO).getMessage().contains("beyond"));
        Plan undefined = plan(Collective.ALL_REDUCE, List.of(
                List.of(new Step.Copy(BufferRef.scratch(0, 0), BufferRef.recv(0, 0), 4)),
                List.of(new Step.Copy(BufferRef.send(1, 0), BufferRef.recv(1, 0), 4))), 4);
        assertTrue(failure(undefined, TWO).getMessage().contains("never written"));
    }

    /** Every Wait a planner emits is needed: dropping any one of them is caught (race, or a wrong result). */
    @Test
    void droppingAnyWaitIsCaught() {
        for (Algorithm a : Algorithm.values()) {
            for (Collective c : Collective.values()) {
                for (Topology t : List.of(PlannerSimulationTest.nvlink(4), PlannerSimulationTest.nvlink(3).withoutP2p())) {
                    Plan plan = Planners.of(a).plan(new PlanRequest(c, t, 6, 1, 2, 0));
                    for (int r = 0; r < plan.ranks(); r++) {
                        for (int i = 0; i < plan.stepsOf(r).size(); i++) {
                            if (plan.stepsOf(r).get(i) instanceof Step.Wait) {
                                Plan broken = without(plan, r, i);
                                boolean caught = false;
                                try {
                                    for (boolean inPlace : PlannerSimulationTest.inPlaceModes(c)) {
                                        new PlanSimulator(broken, t).run(ones(t.size(), (int) c.sendCount(6, t.size())),
                                                ReduceOp.SUM, DType.F32, inPlace, 7);
                                    }
                                } catch (PlanException e) {
                                    caught = true;
                                }
                                if (!caught) {
                                    fail(a + " " + c + " on " + t.name() + ": dropping rank " + r + " step " + i + " "
                                            + plan.stepsOf(r).get(i) + " went unnoticed");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static Plan without(Plan p, int rank, int index) {
        List<List<Step>> steps = new ArrayList<>(p.steps());
        List<Step> mine = new ArrayList<>(steps.get(rank));
        mine.remove(index);
        steps.set(rank, mine);
        return new Plan(p.collective(), p.algorithm(), p.ranks(), p.root(), p.count(), steps, p.scratchElements(),
                p.stagingElements(), p.description());
    }
}
