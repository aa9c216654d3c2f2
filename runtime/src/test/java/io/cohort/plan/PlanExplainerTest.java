package io.cohort.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.Collective;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyFiles;
import org.junit.jupiter.api.Test;

class PlanExplainerTest {

    @Test
    void explainsRingOnTwoH200() {
        Topology t = TopologyFiles.load("nvlink-2");
        Plan plan = Planners.plan(Algorithm.RING, PlanRequest.of(Collective.ALL_REDUCE, t, 8));
        String out = PlanExplainer.explain(plan, t);
        assertTrue(out.startsWith("ring all-reduce, 2 ranks, count 8\n  all-reduce over ring 0>1>0 (NV18 NV18)"), out);
        assertTrue(out.contains("direct links used: 0->1 NV18, 1->0 NV18"), out);
        assertTrue(out.contains("simulation: results correct under random schedules, in place too; no races"), out);
        assertTrue(out.contains("rank 1 (NVIDIA H200 #1)"), out);
        assertTrue(out.contains("reduce  recv[0]+0 = send[1]+0 op send[0]+0  x4"), out);
        assertEquals(3, plan.maxSignals(), "start, reduced segment, end");
    }

    @Test
    void overviewCoversEveryCollectiveAndAlgorithm() {
        String out = PlanExplainer.overview(TopologyFiles.load("islands-8"), 16);
        assertEquals(1 + 2 * Collective.values().length * Algorithm.values().length, out.lines().count(), out);
        assertTrue(out.contains("all-reduce     balanced-tree hops  5"), out);
        assertTrue(!out.contains("CHECK FAILED"), out);
    }
}
