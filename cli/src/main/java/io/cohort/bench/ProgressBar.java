package io.cohort.bench;

import java.io.PrintStream;

/** A one-line progress bar on the terminal (stderr); silent when output is not a terminal. */
public final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;

    private final PrintStream out;
    private final int total;
    private int done;

    private ProgressBar(PrintStream out, int total) {
        this.out = out;
        this.total = total;
    }

    /**
     * A bar on stderr if this JVM runs on a terminal, else one that prints nothing. (Since Java 22
     * System.console() is not null when the streams are redirected; isTerminal() tells.)
     */
    public static ProgressBar forTerminal(int total) {
        java.io.Console console = System.console();
        return new ProgressBar(console != null && console.isTerminal() ? System.err : null, total);
    }

    public static ProgressBar silent() {
        return new ProgressBar(null, 0);
    }

    public void step(String what) {
        done++;
        if (out == null || total == 0) {
            return;
        }
        int filled = (int) ((long) WIDTH * done / total);
        out.print("\r[" + "#".repeat(filled) + " ".repeat(WIDTH - filled) + "] " + done + "/" + total + " " + what
                + "\u001b[K");
        out.flush();
    }

    @Override
    public void close() {
        if (out != null && total > 0) {
            out.print("\r\u001b[K");
            out.flush();
        }
    }
}
