package io.cohort.bench;

import java.util.Locale;

/** Byte sizes as written on the command line: 1024, 8K, 64M, 1G (powers of 1024; a trailing B/iB is fine). */
public final class ByteSizes {
    private ByteSizes() {
    }

    public static long parse(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT).replace("IB", "").replace("B", "");
        long unit = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> unit = 1L << 10;
                case 'M' -> unit = 1L << 20;
                case 'G' -> unit = 1L << 30;
                default -> unit = 1;
            }
        }
        String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
        try {
            long v = Long.parseLong(digits.trim());
            if (v < 0) {
                throw new NumberFormatException();
            }
            return Math.multiplyExact(v, unit);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("bad size '" + text + "' (expected e.g. 1024, 8K, 64M, 1G)");
        }
    }

    /** 1024 -> "1K", 3 MiB -> "3M", 1000 -> "1000": the largest unit that divides exactly (as {@link #parse} reads). */
    public static String format(long bytes) {
        String[] units = {"G", "M", "K"};
        long[] sizes = {1L << 30, 1L << 20, 1L << 10};
        for (int i = 0; i < units.length; i++) {
            if (bytes >= sizes[i] && bytes % sizes[i] == 0) {
                return bytes / sizes[i] + units[i];
            }
        }
        return Long.toString(bytes);
    }
}
