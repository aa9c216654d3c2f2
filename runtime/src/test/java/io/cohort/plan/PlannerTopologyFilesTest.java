package io.cohort.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.Collective;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyFile;
import io.cohort.topology.TopologyFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every shipped topology file x algorithm x collective: the plan validates (only existing links, every rank
 * takes part, no deadlock) and simulates to the reference under random schedules, in place too. Then the
 * shapes docs/algorithms.md promises.
 */
class PlannerTopologyFilesTest {

    @TestFactory
    Stream<DynamicTest> everyFileAlgorithmAndCollective() {
        return TopologyFiles.all().stream().flatMap(file -> Stream.of(Algorithm.values()).map(a ->
                DynamicTest.dynamicTest(file.getFileName() + " " + a.cliName(), () -> checkAll(file, a))));
    }

    private static void checkAll(Path file, Algorithm a) {
        Topology t = TopologyFile.read(file);
        int n = t.size();
        for (Collective c : Collective.values()) {
            int[] roots = c.rooted() ? new int[] {0, n - 1} : new int[] {0};
            for (int root : roots) {
                for (long count : new long[] {0, 1, 13}) {
                    PlannerSimulationTest.check(a, new PlanRequest(c, t, count, root, 3, 0), 2);
                }
                PlannerSimulationTest.check(a, new PlanRequest(c, t, 29, root, 2, 4), 1);
            }
        }
    }

    private static PlanRequest request(Collective c, String file, long count) {
        return PlanRequest.of(c, TopologyFiles.load(file), count);
    }

    @Test
    void ringOrdersFollowTheBestLinks() {
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, RingPlanner.ringOrder(TopologyFiles.load("nvlink-8")));
        // two SYS hops are unavoidable between two islands; the ring takes exactly two
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, RingPlanner.ringOrder(TopologyFiles.load("islands-8")));
        assertArrayEquals(new int[] {0, 1, 2, 3}, RingPlanner.ringOrder(TopologyFiles.load("partial-4")));
        Plan plan = Planners.plan(Algorithm.RING, request(Collective.ALL_REDUCE, "islands-8", 64));
        assertTrue(plan.description().contains("ring 0>1>2>3>4>5>6>7>0 (NV18 NV18 NV18 staged NV18 NV18 NV18 staged)"),
                plan.description());
        // a shuffled partial mesh: the ring still finds the NVLink chain
        Topology chain = TopologyFile.parse("""
                topology { devices = 4, default-link { kind = SYS }
                  links = [{ pairs = [[0, 2], [2, 1], [1, 3], [3, 0]], kind = NV4 }] }""", "chain");
        assertArrayEquals(new int[] {0, 2, 1, 3}, RingPlanner.ringOrder(chain));
        assertEquals(4, PlanValidator.validate(Planners.plan(Algorithm.RING, PlanRequest.of(Collective.ALL_REDUCE, chain, 8)),
                chain).linksUsed().size(), "a full NVLink ring: every hop direct, nothing staged");
    }

    @Test
    void treeDepthsAreTheDocumentedOnes() {
        PlanRequest eight = request(Collective.ALL_REDUCE, "nvlink-8", 64);
        Tree binary = new BinaryTreePlanner().tree(eight);
        assertEquals(3, binary.depth());
        assertEquals("0<-[1,2] 1<-[3,4] 2<-[5,6] 3<-[7]", binary.edges());
        Tree kary = new KaryTreePlanner().tree(new PlanRequest(Collective.ALL_REDUCE, eight.topology(), 64, 0, 4, 0));
        assertEquals(2, kary.depth());
        assertEquals("0<-[1,2,3,4] 1<-[5,6,7]", kary.edges());
        Tree rooted = new BinaryTreePlanner().tree(new PlanRequest(Collective.REDUCE, eight.topology(), 64, 5, 2, 0));
        assertEquals(5, rooted.root());
        assertEquals("5<-[6,7] 6<-[0,1] 7<-[2,3] 0<-[4]", rooted.edges());
        assertEquals(1, new BalancedTreePlanner().tree(eight).depth(), "one island: every rank under the root");
    }

    @Test
    void balancedTreeReducesInsideIslandsFirst() {
        PlanRequest req = request(Collective.ALL_REDUCE, "islands-8", 64);
        Tree tree = new BalancedTreePlanner().tree(req);
        assertEquals("0<-[1,2,3,4] 4<-[5,6,7]", tree.edges());
        assertEquals(2, tree.depth());
        Plan plan = Planners.plan(Algorithm.BALANCED_TREE, req);
        PlanValidator.Report report = PlanValidator.validate(plan, req.topology());
        // direct links only inside the islands; the one edge between them is staged
        assertTrue(report.linksUsed().stream().allMatch(l -> l.endsWith("NV18")), report.toString());
        assertFalse(report.linksUsed().stream().anyMatch(l -> l.startsWith("0->4") || l.startsWith("4->0")));
        assertTrue(report.stagedReads() > 0);

        Tree rootInSecond = new BalancedTreePlanner().tree(new PlanRequest(Collective.REDUCE, req.topology(), 8, 6, 2, 0));
        assertEquals("6<-[4,5,7,0] 0<-[1,2,3]", rootInSecond.edges());
        // partial-4: islands [0 1] [2 3]; rooted at 1, the other island's leader is 2, which has NVLink to 1
        Tree partial = new BalancedTreePlanner().tree(new PlanRequest(Collective.REDUCE, TopologyFiles.load("partial-4"), 8, 1, 2, 0));
        assertEquals("1<-[0,2] 2<-[3]", partial.edges());
        // rooted at 0, the other island attaches at 1 over NVLink rather than at the root over SYS
        PlanRequest partialAt0 = new PlanRequest(Collective.ALL_REDUCE, TopologyFiles.load("partial-4"), 8, 0, 2, 0);
        assertEquals("0<-[1] 1<-[2] 2<-[3]", new BalancedTreePlanner().tree(partialAt0).edges());
        assertEquals(0, PlanValidator.validate(Planners.plan(Algorithm.BALANCED_TREE, partialAt0), partialAt0.topology())
                .stagedReads(), "no staging where links exist");
    }

    @Test
    void reportsSayHowLongTheChainsAre() {
        Topology t = TopologyFiles.load("nvlink-8");
        int ring = PlanValidator.validate(Planners.plan(Algorithm.RING, PlanRequest.of(Collective.ALL_REDUCE, t, 64)), t).syncDepth();
        int oneShot = PlanValidator.validate(Planners.plan(Algorithm.ONE_SHOT, PlanRequest.of(Collective.ALL_REDUCE, t, 64)), t).syncDepth();
        int tree = PlanValidator.validate(Planners.plan(Algorithm.BINARY_TREE, PlanRequest.of(Collective.ALL_REDUCE, t, 64)), t).syncDepth();
        assertTrue(ring >= 14, "ring all-reduce on 8 ranks: 2(n-1) hops, got " + ring);
        assertTrue(oneShot <= 2, "one shot: start and done rounds, got " + oneShot);
        assertTrue(tree >= 6 && tree < ring, "tree: up and down 3 levels, got " + tree);
    }

    @Test
    void everyRankTakesPartAndSinglesAreCopies() {
        Topology one = TopologyFile.parse("topology { devices = 1 }", "one");
        for (Algorithm a : Algorithm.values()) {
            for (Collective c : Collective.values()) {
                Plan plan = Planners.plan(a, PlanRequest.of(c, one, 5));
                assertEquals(List.of(new Step.Copy(BufferRef.send(0, 0), BufferRef.recv(0, 0), 5)), plan.stepsOf(0));
                Plan empty = Planners.plan(a, PlanRequest.of(c, TopologyFiles.load("nvlink-4"), 0));
                assertEquals(0, empty.stepCount());
            }
        }
    }
}
