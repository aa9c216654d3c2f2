package io.cohort.bench;

import de.erichseifert.vectorgraphics2d.VectorGraphics2D;
import de.erichseifert.vectorgraphics2d.svg.SVGProcessor;
import de.erichseifert.vectorgraphics2d.util.PageSize;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Plots bench rows with XChart: bus bandwidth and time per collective against message size (log2 axis), side
 * by side, one line per run, collective, dtype, op, backend and algorithm (only the parts that differ between
 * lines name them). Written as SVG or PNG, by the file's extension.
 */
public final class BenchPlot {

    private static final int WIDTH = 760;
    private static final int HEIGHT = 520;

    /** What a file name asks for. */
    public enum Format {
        SVG, PNG;

        /** The format of {@code file}'s extension; any other extension is a one-line error. */
        public static Format of(Path file) {
            String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
            if (name.endsWith(".svg")) {
                return SVG;
            }
            if (name.endsWith(".png")) {
                return PNG;
            }
            throw new IllegalArgumentException("cannot plot to '" + file + "': the file must end in .svg or .png");
        }
    }

    private BenchPlot() {
    }

    /** Plots one run's rows. */
    public static void write(List<BenchRow> rows, Path file, String title) throws IOException {
        Map<String, List<BenchRow>> runs = new LinkedHashMap<>();
        runs.put("", rows);
        write(runs, file, title);
    }

    /** Plots several runs (label -> rows), e.g. saved CSVs compared; a run's label starts its lines' names. */
    public static void write(Map<String, List<BenchRow>> runs, Path file, String title) throws IOException {
        Format format = Format.of(file);
        if (runs.values().stream().allMatch(List::isEmpty)) {
            throw new IllegalArgumentException("nothing to plot: no rows");
        }
        Map<String, List<BenchRow>> lines = lines(runs);
        XYChart busbw = chart(title + ": bus bandwidth", "bus bandwidth (GB/s)", lines, r -> r.outOfPlace().busBwGBps(), false);
        XYChart time = chart(title + ": time per collective", "time (us)", lines, r -> r.outOfPlace().timeMicros(), true);
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        switch (format) {
            case PNG -> {
                BufferedImage image = new BufferedImage(2 * WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
                Graphics2D g = image.createGraphics();
                g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
                paint(g, busbw, time);
                g.dispose();
                ImageIO.write(image, "png", file.toFile());
            }
            case SVG -> {
                VectorGraphics2D g = new VectorGraphics2D();
                paint(g, busbw, time);
                try (OutputStream out = Files.newOutputStream(file)) {
                    new SVGProcessor().getDocument(g.getCommands(), new PageSize(0, 0, 2 * WIDTH, HEIGHT)).writeTo(out);
                }
            }
        }
    }

    private static void paint(Graphics2D g, XYChart left, XYChart right) {
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, 2 * WIDTH, HEIGHT);
        left.paint(g, WIDTH, HEIGHT);
        g.translate(WIDTH, 0);
        right.paint(g, WIDTH, HEIGHT);
        g.translate(-WIDTH, 0);
    }

    /** Rows grouped into lines (ordered as first seen), named by what tells them apart. */
    public static Map<String, List<BenchRow>> lines(Map<String, List<BenchRow>> runs) {
        List<Function<BenchRow, String>> parts = List.of(r -> r.collective().cliName(), BenchRow::type,
                BenchRow::redop, BenchRow::variant);
        List<BenchRow> all = runs.values().stream().flatMap(List::stream).toList();
        List<Function<BenchRow, String>> varying = new ArrayList<>();
        for (Function<BenchRow, String> part : parts) {
            if (all.stream().map(part).distinct().count() > 1) {
                varying.add(part);
            }
        }
        if (varying.isEmpty()) {
            varying.add(BenchRow::variant);
        }
        Map<String, List<BenchRow>> lines = new LinkedHashMap<>();
        runs.forEach((label, rows) -> {
            for (BenchRow r : rows) {
                String name = (label.isEmpty() ? "" : label + ": ")
                        + String.join(" ", varying.stream().map(p -> p.apply(r)).toList());
                lines.computeIfAbsent(name, k -> new ArrayList<>()).add(r);
            }
        });
        return lines;
    }

    private static XYChart chart(String title, String yTitle, Map<String, List<BenchRow>> lines,
                                 ToDoubleFunction<BenchRow> y, boolean logY) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title)
                .xAxisTitle("message size").yAxisTitle(yTitle).build();
        chart.getStyler().setYAxisLogarithmic(logY);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setxAxisTickLabelsFormattingFunction(BenchPlot::sizeLabel);
        chart.getStyler().setMarkerSize(6);
        for (Map.Entry<String, List<BenchRow>> line : lines.entrySet()) {
            List<BenchRow> rows = line.getValue().stream()
                    .sorted(java.util.Comparator.comparingLong(BenchRow::size)).toList();
            // log2 of the size on a linear axis, labelled back in bytes: doubling sizes are evenly spaced
            double[] xs = rows.stream().mapToDouble(r -> Math.log(r.size()) / Math.log(2)).toArray();
            double[] ys = rows.stream().mapToDouble(y).map(v -> logY ? Math.max(v, 1e-3) : v).toArray();
            XYSeries s = chart.addSeries(line.getKey(), xs, ys);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        return chart;
    }

    private static String sizeLabel(double log2) {
        double rounded = Math.rint(log2);
        return Math.abs(log2 - rounded) < 1e-6 && rounded >= 0 && rounded < 62
                ? ByteSizes.format(1L << (long) rounded) : "";
    }
}
