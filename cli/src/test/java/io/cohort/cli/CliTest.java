package io.cohort.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.bench.BenchCsv;
import io.cohort.bench.BenchPlot;
import io.cohort.bench.BenchRow;
import io.cohort.bench.BenchTable;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The {@code cohort} command line, run in-process with captured output. */
class CliTest {

    record Run(int exitCode, String out, String err) {
        List<String> rows() {
            return out.lines().filter(l -> !l.startsWith("#") && !l.isBlank()).toList();
        }
    }

    static Run cohort(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = CohortCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void benchOnFourHostDevicesPrintsTheDocumentedColumnsAndNoWrongResults() {
        Run run = cohort("bench", "--devices", "host:4", "--max-bytes", "1M", "--iters", "3", "--warmup", "5",
                "--latency-calls", "20");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        String header = run.out().lines().filter(l -> l.contains("algbw")).findFirst().orElseThrow();
        List<String> columns = Arrays.asList(header.substring(1).trim().split("\\s+"));
        assertEquals(BenchTable.COLUMNS, columns);
        assertTrue(run.out().contains("# cohort bench: 4 devices [host:0, host:1, host:2, host:3] (requested host:4)"), run.out());
        assertTrue(run.out().lines().anyMatch(l -> l.contains("out-of-place") && l.contains("in-place")), run.out());
        List<String> rows = run.rows();
        assertEquals(8, rows.size(), run.out()); // 8K, 16K, ... 1M
        long expectedSize = 8 * 1024;
        for (String row : rows) {
            String[] f = row.trim().split("\\s+");
            assertEquals(BenchTable.COLUMNS.size(), f.length, row);
            assertEquals(expectedSize, Long.parseLong(f[0]), row);
            assertEquals(expectedSize / 4, Long.parseLong(f[1]), row);
            assertEquals("f32", f[2]);
            assertEquals("sum", f[3]);
            assertEquals("-", f[4]); // all-reduce has no root
            assertEquals("p2p", f[5]); // auto on host devices
            assertTrue(Double.parseDouble(f[7]) > 0, row);  // time
            assertTrue(Double.parseDouble(f[9]) >= Double.parseDouble(f[8]), row); // busbw >= algbw for all-reduce
            assertEquals("0", f[10], row); // #wrong out of place
            assertTrue(Double.parseDouble(f[11]) > 0, row);  // in-place time
            assertEquals("0", f[14], row); // #wrong in place
            double enq = Double.parseDouble(f[15]);
            double rt = Double.parseDouble(f[16]);
            assertTrue(enq > 0 && rt >= enq, row); // the round trip contains the enqueue
            expectedSize *= 2;
        }
        assertTrue(run.out().contains("# Out of bounds values : 0 OK"), run.out());
    }

    @Test
    void benchRunsSeveralBackendsAndAlgorithmsSideBySideAndWritesCsv(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("bench.csv");
        Run run = cohort("bench", "--devices", "host:3", "--backends", "p2p,native", "--algorithms", "ring,one-shot",
                "--collectives", "all", "--dtype", "bf16", "--min-bytes", "6K", "--max-bytes", "24K", "--factor", "4",
                "--iters", "2", "--warmup", "0", "--latency-calls", "3", "--csv", csv.toString(), "--metrics");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        // 5 collectives x 2 sizes x (2 backends x 2 algorithms)
        assertEquals(40, run.rows().size(), run.out());
        assertTrue(run.rows().stream().anyMatch(r -> r.contains(" native ") && r.contains(" one-shot ")), run.out());
        assertTrue(run.rows().stream().anyMatch(r -> r.contains(" p2p ") && r.contains(" ring ")), run.out());
        List<String> lines = Files.readAllLines(csv);
        assertEquals(BenchCsv.HEADER, lines.getFirst());
        assertEquals(41, lines.size());
        assertTrue(lines.stream().skip(1).allMatch(l -> l.split(",")[12].equals("0")), String.join("\n", lines));
        List<BenchRow> read = BenchCsv.read(csv);
        // all-gather and reduce-scatter have no in-place form; broadcast and reduce show their root
        for (BenchRow r : read) {
            boolean inPlace = r.collective() == io.cohort.core.Collective.ALL_REDUCE
                    || r.collective() == io.cohort.core.Collective.BROADCAST || r.collective() == io.cohort.core.Collective.REDUCE;
            assertEquals(inPlace, r.inPlace() != null, r.toString());
            assertEquals(r.collective().rooted() ? 0 : -1, r.root(), r.toString());
        }
        assertTrue(read.stream().allMatch(r -> r.enqueue().p99Micros() >= r.enqueue().p50Micros()
                && r.roundTrip().p99Micros() >= r.roundTrip().p50Micros()), String.join("\n", lines));
        assertTrue(run.out().contains("# metrics"), run.out());
        assertTrue(run.out().contains("all-gather"), run.out());
    }

    @Test
    void benchRunsEveryDtypeAndOpWithAll() {
        Run run = cohort("bench", "--devices", "host:2", "--dtype", "all", "--op", "all", "--min-bytes", "8K",
                "--max-bytes", "8K", "--iters", "2", "--warmup", "0", "--latency-calls", "3");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertEquals(3 * 4, run.rows().size(), run.out()); // f32, f16, bf16 x sum, avg, max, min
        for (String type : List.of("f32", "f16", "bf16")) {
            for (String op : List.of("sum", "avg", "max", "min")) {
                assertTrue(run.rows().stream().anyMatch(r -> r.contains(" " + type + " ") && r.contains(" " + op + " ")),
                        type + " " + op + " in\n" + run.out());
            }
        }
    }

    @Test
    void benchPlotsSvgAndPngAndPlotComparesSavedRuns(@TempDir Path dir) throws Exception {
        Path svg = dir.resolve("bench.svg");
        Path png = dir.resolve("bench.png");
        Path a = dir.resolve("a.csv");
        Path b = dir.resolve("b.csv");
        String[] common = {"bench", "--devices", "host:2", "--backends", "p2p,native", "--max-bytes", "32K",
                "--iters", "2", "--warmup", "0", "--latency-calls", "3"};
        Run first = cohort(concat(common, "--plot", svg.toString(), "--csv", a.toString()));
        assertEquals(0, first.exitCode(), first.out() + first.err());
        assertTrue(first.out().contains("# plotted 6 rows to " + svg), first.out()); // 8K, 16K, 32K x 2 backends
        String text = Files.readString(svg);
        assertTrue(text.contains("<svg") && text.contains("viewBox=\"0 0 1520 520\""), text.substring(0, 300));
        assertEquals(List.of("p2p", "native"), BenchPlot.lines(java.util.Map.of("", BenchCsv.read(a))).keySet().stream().toList());
        Run second = cohort(concat(common, "--plot", png.toString(), "--csv", b.toString()));
        assertEquals(0, second.exitCode(), second.out() + second.err());
        java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(png.toFile());
        assertEquals(1520, image.getWidth());
        assertEquals(520, image.getHeight());

        Path compared = dir.resolve("compared.png");
        Run plot = cohort("plot", a.toString(), b.toString(), "-o", compared.toString());
        assertEquals(0, plot.exitCode(), plot.out() + plot.err());
        assertEquals("plotted 12 rows of 2 file(s) to " + compared + "\n", plot.out());
        assertEquals(1520, javax.imageio.ImageIO.read(compared.toFile()).getWidth());
    }

    static String[] concat(String[] a, String... b) {
        String[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    @Test
    void benchTakesItsDefaultsFromTheConfigFile() {
        Path conf = repoRoot().resolve("conf/cohort-host.conf");
        Run run = cohort("bench", "--config", conf.toString(), "--max-bytes", "64K", "--iters", "2", "--warmup", "0",
                "--latency-calls", "3");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        // from the file: host:4, p2p and native, all-reduce / all-gather / reduce-scatter, 8K.. by 4
        assertTrue(run.out().contains("4 devices [host:0, host:1, host:2, host:3]"), run.out());
        assertEquals(2 * 3 * 2, run.rows().size(), run.out());
        assertTrue(run.out().contains("# all-gather, 4 ranks") && run.out().contains("# reduce-scatter, 4 ranks"), run.out());
        Run missing = cohort("--config", "no/such.conf", "bench");
        assertEquals(1, missing.exitCode());
        assertEquals("error: config file no/such.conf not found\n", missing.err());
    }

    @Test
    void badOptionsAreOneLineErrors() {
        Run run = cohort("bench", "--devices", "host:2", "--dtype", "int8");
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("error: unknown dtype 'int8' (expected f32, f16 or bf16)"), run.err());
        run = cohort("bench", "--devices", "tpu:2");
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("unknown devices 'tpu:2'"), run.err());
    }

    @Test
    void selftestPassesEveryCaseOnTwoHostDevices() {
        Run run = cohort("selftest", "--devices", "host:2");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        List<String> results = run.out().lines().filter(l -> l.startsWith("PASS") || l.startsWith("FAIL")).toList();
        assertEquals(SelftestCommand.cases(2).size(), results.size());
        assertTrue(results.stream().allMatch(l -> l.startsWith("PASS")), run.out());
        assertTrue(run.out().contains("failed: 0") || run.out().contains(" 0 failed"), run.out());
    }

    @Test
    void topoOfHostDevicesShowsTheMatrixBackendAndAlgorithms() {
        Run run = cohort("topo", "--devices", "host:4");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("SHM"), run.out());
        assertTrue(run.out().contains("backend (auto): p2p (every pair of the 4 devices has P2P; PlanP2pProvider)"), run.out());
        for (String alg : List.of("ring", "binary-tree", "kary-tree", "balanced-tree", "one-shot")) {
            assertTrue(run.out().lines().anyMatch(l -> l.trim().startsWith(alg + " ")), alg + " in\n" + run.out());
        }
    }

    @Test
    void topoOfATopologyFileShowsTheNvlinkMatrixBackendAndEachAlgorithmsShape() {
        Path file = repoRoot().resolve("conf/topologies/nvlink-8.conf");
        Run run = cohort("topo", "--topology", file.toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        List<String> lines = run.out().lines().toList();
        int header = lines.indexOf(lines.stream().filter(l -> l.trim().startsWith("GPU0")).findFirst().orElseThrow());
        for (int i = 0; i < 8; i++) {
            String row = lines.get(header + 1 + i).trim();
            assertTrue(row.startsWith("GPU" + i), row);
            assertTrue(row.contains("NV"), row);
            assertEquals("X", row.split("\\s+")[1 + i], row);
        }
        assertTrue(run.out().contains("backend (auto): p2p (every pair of the 8 devices has P2P)"), run.out());
        assertTrue(run.out().contains("the selector picks"), run.out());
        for (String alg : List.of("ring", "binary-tree", "kary-tree", "balanced-tree", "one-shot")) {
            assertTrue(lines.stream().anyMatch(l -> l.trim().startsWith(alg + " ") && !l.contains("n/a")), alg + " in\n" + run.out());
        }
    }

    /** The repository root (tests run in actors/). */
    static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        return Files.isDirectory(p.resolve("conf/topologies")) ? p : p.getParent();
    }
}
