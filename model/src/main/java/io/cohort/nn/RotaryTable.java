package io.cohort.nn;

import io.cohort.core.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The cos/sin table of rotary position embeddings: row p is {@code [cos(p·f_0) .. cos(p·f_{d/2-1}),
 * sin(p·f_0) .. sin(p·f_{d/2-1})]} with {@code f_i = theta^(-2i/d)}, computed in double and stored as f32 on
 * the rank's device once, so the hot path only reads it.
 */
public final class RotaryTable {
    private RotaryTable() {
    }

    public static Matrix create(TensorOps ops, int maxPositions, int headDim, double theta) {
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("rotary embeddings need an even head dimension, got " + headDim);
        }
        int half = headDim / 2;
        Matrix table = ops.allocate(DType.F32, maxPositions, headDim);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(table.byteSize(), 64);
            for (int p = 0; p < maxPositions; p++) {
                for (int i = 0; i < half; i++) {
                    double angle = p * Math.pow(theta, -2.0 * i / headDim);
                    host.setAtIndex(ValueLayout.JAVA_FLOAT, (long) p * headDim + i, (float) Math.cos(angle));
                    host.setAtIndex(ValueLayout.JAVA_FLOAT, (long) p * headDim + half + i, (float) Math.sin(angle));
                }
            }
            ops.upload(host, table.buffer(), 0);
            ops.synchronize();
        }
        return table;
    }
}
