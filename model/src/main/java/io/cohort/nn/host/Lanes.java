package io.cohort.nn.host;

import jdk.incubator.vector.FloatVector;

/**
 * A lane sum in one fixed order. {@code reduceLanes(ADD)} leaves the order of a float sum unspecified, and the
 * interpreter and C2 do pick different orders, so the same op on the same inputs could give different bits before
 * and after the JIT: a rank compiled sooner than its peer would then disagree with it, and a test comparing two
 * calls would flake.
 */
final class Lanes {
    private Lanes() {
    }

    /** lane 0 + lane 1 + ... in lane order (the loop bound is a JIT constant, so it unrolls). */
    static float sum(FloatVector v) {
        float s = 0f;
        for (int i = 0, n = v.length(); i < n; i++) {
            s += v.lane(i);
        }
        return s;
    }
}
