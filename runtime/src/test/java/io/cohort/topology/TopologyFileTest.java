package io.cohort.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TopologyFileTest {

    @Test
    void shippedFilesLoadWithTheDocumentedShape() {
        List<String> names = TopologyFiles.all().stream().map(p -> p.getFileName().toString()).toList();
        assertEquals(List.of("islands-8.conf", "nop2p-4.conf", "nvlink-2.conf", "nvlink-4.conf", "nvlink-8.conf",
                "partial-4.conf"), names);

        Topology two = TopologyFiles.load("nvlink-2");
        assertEquals(2, two.size());
        assertEquals("NV18", two.link(0, 1).label());
        assertEquals(478.0, two.link(1, 0).bandwidthGBps());
        assertTrue(two.fullyConnected());

        assertTrue(TopologyFiles.load("nvlink-8").fullyConnected());
        assertEquals(8, TopologyFiles.load("nvlink-8").size());
        assertTrue(TopologyFiles.load("nvlink-4").fullyConnected());

        Topology islands = TopologyFiles.load("islands-8");
        assertEquals(List.of("[0, 1, 2, 3]", "[4, 5, 6, 7]"), islands.islands().stream().map(Arrays::toString).toList());
        assertFalse(islands.p2p(3, 4));
        assertEquals(LinkKind.HOST_STAGED, islands.link(0, 7).kind());

        Topology partial = TopologyFiles.load("partial-4");
        assertTrue(partial.p2p(0, 1) && partial.p2p(1, 2) && partial.p2p(2, 3) && partial.p2p(2, 1));
        assertFalse(partial.p2p(0, 2) || partial.p2p(0, 3) || partial.p2p(1, 3) || partial.p2p(3, 0));

        Topology none = TopologyFiles.load("nop2p-4");
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                assertEquals(i == j, none.p2p(i, j));
            }
        }
        assertEquals("PHB", none.link(0, 1).label());
    }

    @Test
    void writingAndReadingBackKeepsEveryLink(@TempDir Path dir) {
        for (Path file : TopologyFiles.all()) {
            Topology t = TopologyFile.read(file);
            Path copy = dir.resolve(file.getFileName());
            TopologyFile.write(t, copy);
            assertSame(t, TopologyFile.read(copy));
        }
        // asymmetric numbers and kinds survive too
        Topology t = TopologyFiles.load("nvlink-4")
                .withLink(0, 1, new Link(true, LinkKind.NVLINK, 18, 0, 300.5, 2.25))
                .withLink(2, 3, new Link(true, LinkKind.PCIE, 0, 1, Double.NaN, 9))
                .withLink(3, 2, new Link(false, LinkKind.PCIE, 0, -1, Double.NaN, Double.NaN));
        String text = TopologyFile.write(t);
        assertTrue(text.contains("asymmetric = true"), text);
        assertSame(t, TopologyFile.parse(text, "round trip"));
    }

    static void assertSame(Topology expected, Topology actual) {
        assertEquals(expected.name(), actual.name());
        assertEquals(expected.deviceNames(), actual.deviceNames());
        for (int i = 0; i < expected.size(); i++) {
            for (int j = 0; j < expected.size(); j++) {
                assertEquals(expected.link(i, j), actual.link(i, j), "link " + i + "->" + j);
            }
        }
    }

    private static String error(String text) {
        return assertThrows(TopologyException.class, () -> TopologyFile.parse(text, "test.conf")).getMessage();
    }

    @Test
    void badFilesGiveClearErrors() {
        assertTrue(error("topology { devices = 2, default-link { kind = warp-drive } }")
                .contains("unknown link kind 'warp-drive'"));
        assertTrue(error("topology { devices = 3, matrix = [\"X NV18\", \"NV18 X\"] }")
                .contains("matrix has 2 rows for 3 devices"));
        assertTrue(error("topology { devices = 2, matrix = [\"X NV18 SYS\", \"NV18 X\"] }")
                .contains("matrix row 0 has 3 entries for 2 devices"));
        assertTrue(error("topology { devices = 2, matrix = [\"NV18 NV18\", \"NV18 X\"] }")
                .contains("diagonal must be X"));
        assertTrue(error("topology { devices = 2, links = [{ pairs = [[0, 2]], kind = NV4 }] }")
                .contains("device 2 outside 0..1"));
        String asym = error("topology { devices = 2, default-link { kind = NV18 }, links = [{ from = 0, to = 1, kind = SYS }] }");
        assertTrue(asym.contains("0->1 is SYS without P2P but 1->0 is NV18 with P2P") && asym.contains("asymmetric = true"),
                asym);
        // the same file is accepted once the asymmetry is declared
        Topology ok = TopologyFile.parse("topology { devices = 2, asymmetric = true, default-link { kind = NV18 },"
                + " links = [{ from = 0, to = 1, kind = SYS }] }", "test.conf");
        assertFalse(ok.p2p(0, 1));
        assertTrue(ok.p2p(1, 0));
        assertTrue(error("topology { name = x }").contains("'devices' is missing"));
        assertTrue(error("nothing = 1").contains("no 'topology { ... }' block"));
        assertTrue(error("topology { devices = 2, links = [{ kind = NV4 }] }").contains("exactly one of"));
        assertTrue(error("topology { devices = 2, default-link { kind = SYS, p2p = true } }")
                .contains("host-staged (SYS) but declares P2P"));
        assertTrue(assertThrows(TopologyException.class, () -> TopologyFile.read(Path.of("no/such/file.conf")))
                .getMessage().contains("does not exist"));
    }

    @Test
    void labelsAndNumbersApplyToMatrixCells() {
        Topology t = TopologyFile.parse("""
                topology {
                  devices = ["a", "b", "c"]
                  matrix = ["X NV12 PIX", "NV12 X NODE", "PIX NODE X"]
                  labels { NV12 { bandwidth-gbps = 300, latency-us = 1.5 } }
                }""", "inline");
        assertEquals(new Link(true, LinkKind.NVLINK, 12, -1, 300, 1.5), t.link(1, 0));
        assertTrue(t.p2p(0, 2));
        assertEquals(LinkKind.PCIE, t.link(2, 1).kind());
        assertFalse(t.p2p(2, 1));
        assertEquals(List.of("a", "b", "c"), t.deviceNames());
        Topology pasted = TopologyFile.parse("topology { devices = 2, matrix = [\"GPU0  X  NV18\", \"GPU1  NV18  X\"] }",
                "pasted");
        assertEquals("NV18", pasted.link(0, 1).label());
    }

    @Test
    void validationRejectsMalformedMatrices() {
        Link nv = new Link(true, LinkKind.NVLINK, 18, 0, Double.NaN, Double.NaN);
        Topology selfOffDiagonal = Topology.uniform("t", List.of("a", "b"), nv).withLink(0, 1, Link.self());
        assertTrue(TopologyValidation.problems(selfOffDiagonal, true).getFirst().contains("is SELF"));
        Topology notSelf = Topology.uniform("t", List.of("a", "b"), nv).withLink(1, 1, nv);
        assertTrue(TopologyValidation.problems(notSelf, true).getFirst().contains("diagonal"));
        Topology zeroLinks = Topology.uniform("t", List.of("a", "b"), new Link(true, LinkKind.NVLINK, 0, 0, Double.NaN, Double.NaN));
        assertThrows(TopologyException.class, () -> TopologyValidation.validate(zeroLinks, false));
        assertTrue(TopologyValidation.problems(TopologyFiles.load("islands-8"), false).isEmpty());
    }
}
