package io.cohort.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    @Test
    void lineShowsBarBytesAndTensors() {
        ProgressBar bar = new ProgressBar("loading", 4L << 20, 10, ProgressBar.Mode.SILENT);
        String line = bar.line(1L << 20, 3);
        assertTrue(line.startsWith("loading [=======       "), line);
        assertTrue(line.contains(" 25% 1.0 MiB / 4.0 MiB, 3/10 tensors"), line);
    }

    @Test
    void terminalModeRedrawsInPlaceAndEndsTheLine() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ProgressBar bar = new ProgressBar("loading", 100, 2, ProgressBar.Mode.TERMINAL,
                new PrintStream(out, true, StandardCharsets.UTF_8))) {
            bar.advance(50, 1);
            bar.advance(50, 1);
            assertEquals(100, bar.bytesDone());
            assertEquals(2, bar.itemsDone());
        }
        String s = out.toString(StandardCharsets.UTF_8);
        assertTrue(s.startsWith("\rloading ["), s);
        assertTrue(s.contains("100% 100 B / 100 B, 2/2 tensors") && s.endsWith(System.lineSeparator()), s);
    }

    @Test
    void humanSizes() {
        assertEquals("512 B", ProgressBar.human(512));
        assertEquals("1.5 KiB", ProgressBar.human(1536));
        assertEquals("2.0 GiB", ProgressBar.human(2L << 30));
    }
}
