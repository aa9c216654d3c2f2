package io.cohort.select;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.plan.Algorithm;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyFile;
import io.cohort.topology.TopologyFiles;
import org.junit.jupiter.api.Test;

/** The shipped rules pick what docs/algorithms.md's table says. */
class TableSelectorTest {

    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private final TableSelector selector = TableSelector.defaults();

    private Algorithm pick(String file, long bytes) {
        return selector.select(Collective.ALL_REDUCE, TopologyFiles.load(file), bytes, DType.BF16);
    }

    @Test
    void shippedRulesMatchTheDocumentedTable() {
        assertEquals(Algorithm.ONE_SHOT, pick("nvlink-2", 0));
        assertEquals(Algorithm.ONE_SHOT, pick("nvlink-8", 64 * KIB));
        assertEquals(Algorithm.BINARY_TREE, pick("nvlink-8", 64 * KIB + 1));
        assertEquals(Algorithm.BINARY_TREE, pick("nvlink-4", MIB - 1));
        assertEquals(Algorithm.RING, pick("nvlink-2", MIB));
        assertEquals(Algorithm.RING, pick("nvlink-8", 256 * MIB));
        assertEquals(Algorithm.BALANCED_TREE, pick("islands-8", 1));
        assertEquals(Algorithm.BALANCED_TREE, pick("islands-8", 64 * MIB));
        assertEquals(Algorithm.BALANCED_TREE, pick("partial-4", MIB));
        assertEquals(Algorithm.ONE_SHOT, pick("nop2p-4", 4 * KIB));
        assertEquals(Algorithm.RING, pick("nop2p-4", 4 * MIB));
        assertEquals(Algorithm.RING, selector.select(Collective.REDUCE_SCATTER, TopologyFiles.load("nvlink-8"), 256 * KIB, DType.F32));
        assertEquals(Algorithm.RING, selector.select(Collective.ALL_GATHER, TopologyFiles.load("islands-8"), KIB, DType.F32));
        assertEquals(Algorithm.ONE_SHOT, selector.select(Collective.ALL_GATHER, TopologyFiles.load("nvlink-4"), KIB, DType.F32));
        assertEquals(Algorithm.BINARY_TREE, selector.select(Collective.BROADCAST, TopologyFiles.load("nvlink-4"), 128 * KIB, DType.F32));
        Topology single = TopologyFile.parse("topology { devices = 1 }", "one");
        assertEquals(TopologyClass.FULLY_CONNECTED, TopologyClass.of(single));
    }

    @Test
    void topologyClasses() {
        assertEquals(TopologyClass.FULLY_CONNECTED, TopologyClass.of(TopologyFiles.load("nvlink-8")));
        assertEquals(TopologyClass.ISLANDS, TopologyClass.of(TopologyFiles.load("islands-8")));
        assertEquals(TopologyClass.ISLANDS, TopologyClass.of(TopologyFiles.load("partial-4")));
        assertEquals(TopologyClass.NO_P2P, TopologyClass.of(TopologyFiles.load("nop2p-4")));
        assertEquals(TopologyClass.NO_P2P, TopologyClass.of(TopologyFiles.load("nvlink-4").withoutP2p()));
    }

    @Test
    void firstMatchingRuleWinsAndEveryConditionCounts() {
        TableSelector s = TableSelector.fromConfig(ConfigFactory.parseString("""
                cohort.algorithm {
                  default = ring
                  rules = [
                    { collective = reduce-scatter, algorithm = one-shot }
                    { dtype = f16, min-ranks = 4, algorithm = kary-tree, arity = 3 }
                    { max-ranks = 2, max-bytes = 1KiB, algorithm = binary-tree }
                    { collective = "*", topology = any, algorithm = balanced-tree, min-bytes = 1MiB }
                  ]
                }"""));
        Topology two = TopologyFiles.load("nvlink-2");
        Topology four = TopologyFiles.load("nvlink-4");
        assertEquals(Algorithm.ONE_SHOT, s.select(Collective.REDUCE_SCATTER, four, 10 * MIB, DType.F16));
        SelectionTable.Choice kary = s.choose(Collective.ALL_REDUCE, four, 10, DType.F16);
        assertEquals(Algorithm.KARY_TREE, kary.algorithm());
        assertEquals(3, kary.arity());
        assertEquals(Algorithm.BINARY_TREE, s.select(Collective.ALL_REDUCE, two, 1024, DType.F16));
        assertEquals(Algorithm.BALANCED_TREE, s.select(Collective.ALL_REDUCE, two, 1025 * KIB, DType.F16));
        SelectionTable.Choice fallback = s.choose(Collective.BROADCAST, two, 2048, DType.F32);
        assertEquals(Algorithm.RING, fallback.algorithm());
        assertNull(fallback.rule());
        assertEquals(4, fallback.arity());
    }

    @Test
    void badTablesAreRejectedWithTheRuleNamed() {
        String typo = assertThrows(CohortException.class, () -> TableSelector.fromConfig(ConfigFactory.parseString(
                "cohort.algorithm { default = ring, rules = [{ max-byte = 1, algorithm = ring }] }"))).getMessage();
        assertTrue(typo.contains("rules[0]") && typo.contains("unknown key 'max-byte'"), typo);
        String algo = assertThrows(CohortException.class, () -> TableSelector.fromConfig(ConfigFactory.parseString(
                "cohort.algorithm { default = ring, rules = [{}, { algorithm = bogus }] }"))).getMessage();
        assertTrue(algo.contains("rules[0]"), algo); // missing algorithm
        String shape = assertThrows(CohortException.class, () -> TableSelector.fromConfig(ConfigFactory.parseString(
                "cohort.algorithm { default = ring, rules = [{ topology = torus, algorithm = ring }] }"))).getMessage();
        assertTrue(shape.contains("unknown topology class 'torus'"), shape);
        String range = assertThrows(CohortException.class, () -> TableSelector.fromConfig(ConfigFactory.parseString(
                "cohort.algorithm { default = ring, rules = [{ min-bytes = 2, max-bytes = 1, algorithm = ring }] }")))
                .getMessage();
        assertTrue(range.contains("byte range"), range);
    }
}
