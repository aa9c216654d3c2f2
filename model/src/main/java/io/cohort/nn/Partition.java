package io.cohort.nn;

/** The slice {@code [start, start + length)} of a dimension of {@code total} that one rank owns. */
public record Partition(int start, int length, int total) {

    /** Equal slices; {@code total} must divide by {@code parts} ({@code what} names the dimension in the error). */
    public static Partition even(String what, int total, int parts, int rank) {
        if (total % parts != 0) {
            throw new IllegalArgumentException(what + " = " + total + " is not divisible by tp = " + parts);
        }
        int len = total / parts;
        return new Partition(rank * len, len, total);
    }

    /** Slices differing by at most one (the first {@code total % parts} ranks get one more): vocabularies. */
    public static Partition balanced(int total, int parts, int rank) {
        int base = total / parts;
        int extra = total % parts;
        int start = rank * base + Math.min(rank, extra);
        return new Partition(start, base + (rank < extra ? 1 : 0), total);
    }

    public int end() {
        return start + length;
    }
}
