package io.cohort.nn.cuda;

import io.cohort.core.DType;
import io.cohort.nn.Matrix;
import io.cohort.nn.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** f32 test matrices on one device's ops: uploaded from arrays, NaN-filled, downloaded; freed together. */
final class TestMatrices implements AutoCloseable {
    private final TensorOps ops;
    private final List<Matrix> owned = new ArrayList<>();

    TestMatrices(TensorOps ops) {
        this.ops = ops;
    }

    Matrix upload(float[] data, int rows, int cols) {
        Matrix m = own(ops.allocate(DType.F32, rows, cols));
        ops.upload(MemorySegment.ofArray(data), m.buffer(), 0);
        return m;
    }

    /** Every element NaN: a kernel that leaves one unwritten, or reads one, shows. */
    Matrix nan(int rows, int cols) {
        float[] nan = new float[rows * cols];
        Arrays.fill(nan, Float.NaN);
        return upload(nan, rows, cols);
    }

    /** Freed with the others. */
    Matrix own(Matrix m) {
        owned.add(m);
        return m;
    }

    float[] download(Matrix m) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(m.byteSize(), 16);
            ops.download(m.buffer(), 0, s);
            return s.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    static float[] gaussian(int n, Random rnd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    /** A KV cache of {@code capacity} rows: Gaussian up to {@code filled}, NaN past it. */
    static float[] cache(int capacity, int cols, int filled, Random rnd) {
        float[] a = gaussian(capacity * cols, rnd);
        Arrays.fill(a, filled * cols, a.length, Float.NaN);
        return a;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    @Override
    public void close() {
        owned.forEach(ops::free);
        owned.clear();
    }
}
