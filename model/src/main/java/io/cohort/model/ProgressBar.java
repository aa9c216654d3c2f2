package io.cohort.model;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Progress of a long load, safe to advance from every rank's thread. On a terminal it redraws one line on
 * stderr (bar, bytes, tensors, rate) at most every 200 ms; otherwise (logs, CI) it logs a line per 10% at most
 * once a second, and a last line when done.
 */
public final class ProgressBar implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressBar.class);
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final long LOG_INTERVAL_NANOS = 1_000_000_000L;

    public enum Mode {
        /** Redraw a bar in place (stderr is an interactive terminal). */
        TERMINAL,
        /** A log line per 10%. */
        LOG,
        /** Nothing (tests). */
        SILENT;

        public static Mode detect() {
            var console = System.console();
            return console != null && console.isTerminal() ? TERMINAL : LOG;
        }
    }

    private final String label;
    private final long totalBytes;
    private final long totalItems;
    private final Mode mode;
    private final PrintStream out;
    private final long started = System.nanoTime();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong items = new AtomicLong();
    private final AtomicLong lastDraw = new AtomicLong(Long.MIN_VALUE / 2);
    private final AtomicLong lastDecile = new AtomicLong(0);
    private long lastLog = started;

    public ProgressBar(String label, long totalBytes, long totalItems, Mode mode) {
        this(label, totalBytes, totalItems, mode, System.err);
    }

    ProgressBar(String label, long totalBytes, long totalItems, Mode mode, PrintStream out) {
        this.label = label;
        this.totalBytes = Math.max(totalBytes, 1);
        this.totalItems = totalItems;
        this.mode = mode;
        this.out = out;
    }

    public void advance(long doneBytes, long doneItems) {
        long b = bytes.addAndGet(doneBytes);
        long i = items.addAndGet(doneItems);
        switch (mode) {
            case TERMINAL -> {
                long now = System.nanoTime();
                long last = lastDraw.get();
                if (now - last >= REDRAW_NANOS && lastDraw.compareAndSet(last, now)) {
                    synchronized (out) {
                        out.print("\r" + line(b, i));
                        out.flush();
                    }
                }
            }
            case LOG -> {
                long decile = b * 10 / totalBytes;
                if (decile > lastDecile.get() && decile < 10) {
                    synchronized (this) {
                        // re-read under the lock so lines come out in order; at most one per 10% and per second
                        long now = System.nanoTime();
                        long current = bytes.get() * 10 / totalBytes;
                        if (current > lastDecile.get() && now - lastLog >= LOG_INTERVAL_NANOS) {
                            lastDecile.set(current);
                            lastLog = now;
                            LOG.info("{}", line(bytes.get(), items.get()));
                        }
                    }
                }
            }
            case SILENT -> {
            }
        }
    }

    public long bytesDone() {
        return bytes.get();
    }

    public long itemsDone() {
        return items.get();
    }

    String line(long b, long i) {
        int width = 30;
        int filled = (int) Math.min(width, b * width / totalBytes);
        double secs = Math.max((System.nanoTime() - started) / 1e9, 1e-9);
        return String.format(Locale.ROOT, "%s [%s%s] %3d%% %s / %s, %d/%d tensors, %s/s", label,
                "=".repeat(filled), " ".repeat(width - filled), b * 100 / totalBytes, human(b), human(totalBytes),
                i, totalItems, human((long) (b / secs)));
    }

    public static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    @Override
    public void close() {
        String done = line(bytes.get(), items.get()) + String.format(Locale.ROOT, " in %.1f s",
                (System.nanoTime() - started) / 1e9);
        switch (mode) {
            case TERMINAL -> {
                synchronized (out) {
                    out.println("\r" + done);
                }
            }
            case LOG -> LOG.info("{}", done);
            case SILENT -> {
            }
        }
    }
}
