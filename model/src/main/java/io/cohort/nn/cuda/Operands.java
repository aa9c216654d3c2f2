package io.cohort.nn.cuda;

import io.cohort.core.DType;
import io.cohort.nn.Matrix;

/** The checks the CUDA ops make of their operands before a launch. */
final class Operands {
    private Operands() {
    }

    static boolean f32(Matrix m) {
        return m.dtype() == DType.F32;
    }

    /** Activations are f32: anything else is the caller's mistake, named by {@code what}. */
    static void f32(Matrix m, String what) {
        if (m.dtype() != DType.F32) {
            throw new IllegalArgumentException(what + " must be F32 (activations), got " + m);
        }
    }

    /** The vector kernels load float4s: every matrix starts on 16 bytes (row strides are 4k floats). */
    static boolean aligned(Matrix... ms) {
        for (Matrix m : ms) {
            if (m.buffer().address() % 16 != 0) {
                return false;
            }
        }
        return true;
    }
}
