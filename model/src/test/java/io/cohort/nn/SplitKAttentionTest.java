package io.cohort.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.DType;
import io.cohort.device.host.HostDevice;
import io.cohort.nn.host.HostTensorOps;
import io.cohort.nn.host.SplitKAttention;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The flash-decoding split (the CUDA split-K kernels' math, {@link SplitKAttention}) and the online form of
 * prefill ({@link SplitKAttention#online}) against the existing
 * attention ({@link HostTensorOps#attention}, one softmax over the whole row) with grouped KV heads, from one
 * chunk to many, the last chunk partial. Splitting only reorders f32 sums and rescales each chunk's terms by
 * e^(m_c - M) (one more rounding each): on O(1) outputs over ≤ 80 positions the difference stays below
 * 2e-6; we assert 1e-5 absolute, the bound HostAttentionTest gives the unsplit op against double.
 */
class SplitKAttentionTest {
    private final HostDevice device = HostDevice.open(0);
    private final HostTensorOps ops = new HostTensorOps(device, 1);

    @AfterEach
    void close() {
        ops.close();
        device.close();
    }

    @ParameterizedTest
    @CsvSource({"8, 2, 16, 79, 1, 8", "8, 2, 16, 79, 1, 256", "32, 4, 32, 60, 3, 7", "4, 4, 8, 0, 1, 4",
            "16, 1, 64, 33, 2, 16", "4, 2, 16, 5, 4, 3"})
    void matchesTheWholeRowSoftmax(int heads, int kvHeads, int headDim, int startPos, int rows, int chunk) {
        Random rnd = new Random(heads * 31 + headDim + chunk);
        int capacity = 96;
        Matrix q = fill(ops.allocate(DType.F32, rows, heads * headDim), rnd);
        Matrix k = fill(ops.allocate(DType.F32, capacity, kvHeads * headDim), rnd);
        Matrix v = fill(ops.allocate(DType.F32, capacity, kvHeads * headDim), rnd);
        Matrix whole = ops.allocate(DType.F32, rows, heads * headDim), split = ops.allocate(DType.F32, rows, heads * headDim);
        ops.attention(q, k, v, heads, kvHeads, headDim, startPos, whole);
        SplitKAttention.attention(q, k, v, heads, kvHeads, headDim, startPos, chunk, split);
        assertTrue(worst(whole, split) <= 1e-5, "split every " + chunk + " vs whole row: worst " + worst(whole, split));
        Matrix online = ops.allocate(DType.F32, rows, heads * headDim);
        SplitKAttention.online(q, k, v, heads, kvHeads, headDim, startPos, chunk, online);
        assertTrue(worst(whole, online) <= 1e-5, "online every " + chunk + " vs whole row: worst " + worst(whole, online));
    }

    private static double worst(Matrix a, Matrix b) {
        double worst = 0;
        for (long i = 0; i < a.elements(); i++) {
            worst = Math.max(worst, Math.abs(DType.F32.get(a.buffer().segment(), i) - DType.F32.get(b.buffer().segment(), i)));
        }
        return worst;
    }

    private static Matrix fill(Matrix m, Random rnd) {
        for (long i = 0; i < m.elements(); i++) {
            m.dtype().set(m.buffer().segment(), i, (float) rnd.nextGaussian());
        }
        return m;
    }
}
