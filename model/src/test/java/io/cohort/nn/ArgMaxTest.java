package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Greedy sampling's scan: the first of equal maxima, NaN never winning, -inf and one element. */
class ArgMaxTest {
    @Test
    void firstOfTheLargest() {
        assertEquals(2, ArgMax.of(new float[] {1, 3, 5, 5, -2}));
        assertEquals(0, ArgMax.of(new float[] {7}));
        assertEquals(1, ArgMax.of(new float[] {Float.NEGATIVE_INFINITY, 0f, -0f}));
    }

    @Test
    void nanNeverWins() {
        float nan = Float.NaN;
        assertEquals(2, ArgMax.of(new float[] {nan, 1, 4, nan, 4}));
        assertEquals(1, ArgMax.of(new float[] {nan, Float.NEGATIVE_INFINITY}));
        assertEquals(0, ArgMax.of(new float[] {nan, nan}));
        assertEquals(0, ArgMax.of(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}));
    }

    @Test
    void packsValueAndIndexAndScansASlice() {
        long p = ArgMax.pack(-3.5f, 123456);
        assertEquals(-3.5f, ArgMax.value(p));
        assertEquals(123456, ArgMax.index(p));
        long s = ArgMax.of(new float[] {9, 1, 2, 8, 0}, 1, 3);
        assertEquals(2, ArgMax.index(s));
        assertEquals(8f, ArgMax.value(s));
    }
}
