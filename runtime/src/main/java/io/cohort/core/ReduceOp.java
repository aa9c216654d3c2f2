package io.cohort.core;

import java.util.Locale;

/** Reduction operators. AVG is SUM followed by a scale of 1/n on the result. */
public enum ReduceOp {
    SUM, MAX, MIN, AVG;

    /** Combines two values in float; AVG combines as SUM (the division happens once, at the end). */
    public float combine(float a, float b) {
        return switch (this) {
            case SUM, AVG -> a + b;
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
        };
    }

    /** The operator applied pairwise while reducing (AVG reduces as SUM). */
    public ReduceOp pairwise() {
        return this == AVG ? SUM : this;
    }

    public static ReduceOp parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown reduce op '" + name + "' (expected sum, max, min or avg)");
        }
    }
}
