package io.cohort.nn.host;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/** The lane sum is the sequential sum, in the interpreter and after C2 has compiled it. */
class LanesTest {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** Values where the order of the sum shows in the bits: 1e8 swallows a 1 added to it. */
    private static float[] orderSensitive() {
        float[] a = new float[F.length()];
        for (int i = 0; i < a.length; i++) {
            a[i] = switch (i % 4) {
                case 0 -> 1e8f;
                case 1, 3 -> 1f;
                default -> -1e8f;
            };
        }
        return a;
    }

    private static float sequential(float[] a) {
        float s = 0f;
        for (float v : a) {
            s += v;
        }
        return s;
    }

    @Test
    void sumsInLaneOrderBeforeAndAfterTheJit() {
        float[] a = orderSensitive();
        float expected = sequential(a);
        FloatVector v = FloatVector.fromArray(F, a, 0);
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(Lanes.sum(v)), "cold");
        float last = 0f;
        for (int i = 0; i < 50_000; i++) {
            last = Lanes.sum(FloatVector.fromArray(F, a, 0));
        }
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(last), "warm");
    }
}
