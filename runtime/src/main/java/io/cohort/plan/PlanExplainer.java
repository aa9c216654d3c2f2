package io.cohort.plan;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.topology.Topology;
import java.util.List;
import java.util.Random;

/**
 * A readable account of a plan for {@code cohort topo --explain}: its description, the validator's report,
 * each rank's steps, and whether a simulation on random data (in place too, where the collective has an
 * in-place form) matched a direct computation.
 */
public final class PlanExplainer {

    private PlanExplainer() {
    }

    public static String explain(Plan plan, Topology topology) {
        StringBuilder sb = new StringBuilder();
        sb.append(plan.algorithm().cliName()).append(' ').append(plan.collective().cliName()).append(", ")
                .append(plan.ranks()).append(" ranks, count ").append(plan.count())
                .append(plan.collective().rooted() ? ", root " + plan.root() : "").append('\n');
        sb.append("  ").append(plan.description()).append('\n');
        PlanValidator.Report report = PlanValidator.validate(plan, topology);
        sb.append("  ").append(report.signals()).append(" signals, ").append(report.waits()).append(" waits, sync depth ")
                .append(report.syncDepth()).append(", scratch ").append(plan.scratchElements())
                .append(" elements, staging ").append(plan.stagingElements()).append(" elements\n");
        sb.append("  direct links used: ").append(report.linksUsed().isEmpty() ? "none" : String.join(", ", report.linksUsed()))
                .append(report.stagedReads() > 0 ? "; " + report.stagedReads() + " reads from host staging" : "")
                .append('\n');
        sb.append("  simulation: ").append(simulate(plan, topology)).append('\n');
        for (int r = 0; r < plan.ranks(); r++) {
            List<Step> steps = plan.stepsOf(r);
            sb.append("  rank ").append(r).append(" (").append(topology.deviceNames().get(r)).append("), ")
                    .append(steps.size()).append(" steps\n");
            for (int i = 0; i < steps.size(); i++) {
                sb.append(String.format("    %3d  %s%n", i, format(steps.get(i))));
            }
        }
        return sb.toString();
    }

    /**
     * One line per collective and algorithm for {@code count} elements on {@code topology}: the plan's shape,
     * its sync depth (hops), reads from host staging, and the simulated check. What {@code cohort topo
     * --explain} prints before any single plan.
     */
    public static String overview(Topology topology, long count) {
        StringBuilder sb = new StringBuilder();
        sb.append("Plans for count ").append(count).append(" on ").append(topology.name()).append(" (root 0):\n");
        for (Collective c : Collective.values()) {
            for (Algorithm a : Algorithm.values()) {
                Plan plan = Planners.plan(a, PlanRequest.of(c, topology, count));
                PlanValidator.Report report = PlanValidator.validate(plan, topology);
                sb.append(String.format("  %-14s %-13s hops %2d, staged reads %3d, %s%n", c.cliName(), a.cliName(),
                        report.syncDepth(), report.stagedReads(), simulate(plan, topology).startsWith("results correct")
                                ? "checked" : "CHECK FAILED"));
                sb.append("      ").append(plan.description()).append('\n');
            }
        }
        return sb.toString();
    }

    /** Runs the plan under a few random schedules with op SUM and compares with a direct sum in double. */
    static String simulate(Plan plan, Topology topology) {
        int n = plan.ranks();
        Collective c = plan.collective();
        if (plan.count() > 4096) {
            return "skipped (count above 4096)";
        }
        Random random = new Random(1);
        boolean[] modes = c == Collective.ALL_REDUCE || c == Collective.REDUCE || c == Collective.BROADCAST
                ? new boolean[] {false, true} : new boolean[] {false};
        for (boolean inPlace : modes) {
            for (int seed = 0; seed < 3; seed++) {
                float[][] send = new float[n][(int) c.sendCount(plan.count(), n)];
                for (float[] s : send) {
                    for (int i = 0; i < s.length; i++) {
                        s[i] = random.nextInt(17) - 8; // small integers: float sums are exact
                    }
                }
                PlanSimulator.Outcome out = new PlanSimulator(plan, topology).run(send, ReduceOp.SUM, DType.F32, inPlace, seed);
                String mismatch = compare(c, plan, send, out);
                if (mismatch != null) {
                    return "WRONG RESULT" + (inPlace ? " in place" : "") + ": " + mismatch;
                }
            }
        }
        return "results correct under random schedules" + (modes.length > 1 ? ", in place too" : "")
                + "; no races";
    }

    private static String compare(Collective c, Plan plan, float[][] send, PlanSimulator.Outcome out) {
        int n = plan.ranks();
        int k = (int) plan.count();
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < out.recvOf(r).length; i++) {
                double expected = switch (c) {
                    case ALL_REDUCE, REDUCE -> sum(send, i);
                    case REDUCE_SCATTER -> sum(send, r * k + i);
                    case BROADCAST -> send[plan.root()][i];
                    case ALL_GATHER -> send[i / k][i % k];
                };
                if (expected != out.recvOf(r)[i]) {
                    return "rank " + r + " element " + i + " is " + out.recvOf(r)[i] + ", expected " + expected;
                }
            }
        }
        return null;
    }

    private static double sum(float[][] send, int index) {
        double s = 0;
        for (float[] row : send) {
            s += row[index];
        }
        return s;
    }

    private static String format(Step step) {
        return switch (step) {
            case Step.Copy(BufferRef src, BufferRef dst, long count) -> "copy    " + dst + " = " + src + "  x" + count;
            case Step.Reduce(BufferRef a, BufferRef b, BufferRef dst, long count) ->
                    "reduce  " + dst + " = " + a + " op " + b + "  x" + count;
            case Step.Scale(BufferRef buf, long count) -> "scale   " + buf + "  x" + count + "  (AVG only)";
            case Step.Signal(int tag) -> "signal  " + tag;
            case Step.Wait(int rank, int tag) -> "wait    rank " + rank + " signal " + tag;
        };
    }
}
