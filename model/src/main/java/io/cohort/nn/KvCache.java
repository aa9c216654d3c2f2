package io.cohort.nn;

import io.cohort.core.DType;

/**
 * Keys and values of one layer's local KV heads for positions {@code 0..capacity-1}, on the rank's device:
 * row p holds position p ({@code kvHeads/tp · headDim} values). Written at the positions being computed,
 * read by every later position.
 */
public final class KvCache implements AutoCloseable {
    private final TensorOps ops;
    private final Matrix keys;
    private final Matrix values;

    public KvCache(TensorOps ops, DType dtype, int capacity, int width) {
        this.ops = ops;
        this.keys = ops.allocate(dtype, capacity, width);
        this.values = ops.allocate(dtype, capacity, width);
    }

    public Matrix keys() {
        return keys;
    }

    public Matrix values() {
        return values;
    }

    public int capacity() {
        return keys.rows();
    }

    /** Stores rows of k and v as positions {@code [startPos, startPos + k.rows())}. */
    public void write(int startPos, Matrix k, Matrix v) {
        checkFits(startPos, k.rows());
        ops.writePositions(k, keys, startPos);
        ops.writePositions(v, values, startPos);
    }

    /**
     * Rotates q and k ({@link RotaryTable} {@code table}) and stores the rotated k and v rows as positions
     * {@code [startPos, startPos + k.rows())}: {@link TensorOps#rotaryKvWrite}, one launch on devices that fuse it.
     */
    public void rotateAndWrite(int startPos, Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim,
                               Matrix table) {
        checkFits(startPos, k.rows());
        ops.rotaryKvWrite(q, k, v, heads, kvHeads, headDim, startPos, table, keys, values);
    }

    /**
     * {@link #rotateAndWrite}, then attention of the rotated q over the cache into out:
     * {@link TensorOps#rotaryAttention}, one launch on a GPU for decode steps. q's contents are unspecified after.
     */
    public void rotateWriteAttend(int startPos, Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim,
                                  Matrix table, Matrix out) {
        checkFits(startPos, k.rows());
        ops.rotaryAttention(q, k, v, heads, kvHeads, headDim, startPos, table, keys, values, out);
    }

    private void checkFits(int startPos, int rows) {
        if (startPos + rows > capacity()) {
            throw new IllegalArgumentException("KV cache full: positions up to " + (startPos + rows - 1)
                    + " but capacity " + capacity() + " (raise max-seq)");
        }
    }

    @Override
    public void close() {
        ops.free(keys);
        ops.free(values);
    }
}
