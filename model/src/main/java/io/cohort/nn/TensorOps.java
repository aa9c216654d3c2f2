package io.cohort.nn;

import io.cohort.core.DType;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import java.lang.foreign.MemorySegment;

/**
 * The compute a Llama-style decoder needs, on one device. Each rank owns one instance and calls it from one
 * thread (implementations keep scratch memory and are not thread-safe). Calls may be asynchronous on a device
 * stream; {@link #download} and {@link #synchronize} wait.
 *
 * <p>Numerics: every op reads its inputs as their dtype, computes in f32 and rounds the result once to the
 * output's dtype. {@link #matmulT} accumulates in f32.
 */
public interface TensorOps extends AutoCloseable {

    Device device();

    /** A {@code rows x cols} matrix in this device's memory (contents undefined). */
    Matrix allocate(DType dtype, int rows, int cols);

    /** Releases a matrix from {@link #allocate}. */
    void free(Matrix matrix);

    /** Copies host memory into {@code dst} at {@code dstOffset} bytes; {@code src} may be reused on return. */
    void upload(MemorySegment src, DeviceBuffer dst, long dstOffset);

    /** Copies {@code dst.byteSize()} bytes from {@code src} at {@code srcOffset} into host memory; waits. */
    void download(DeviceBuffer src, long srcOffset, MemorySegment dst);

    /** {@code out = a · wᵀ}: a is {@code [m, k]}, w is {@code [n, k]} (a weight as stored), out is {@code [m, n]}. */
    void matmulT(Matrix a, Matrix w, Matrix out);

    /** Row-wise {@code out = x / sqrt(mean(x²) + eps) * weight}; weight is {@code [1, cols]}. */
    void rmsNorm(Matrix x, Matrix weight, float eps, Matrix out);

    /**
     * Rotary position embedding in place, Hugging Face Llama layout ("rotate half": element i pairs with
     * i + headDim/2 in each head). Row t of x is the token at position {@code startPos + t}; x holds
     * {@code heads} heads of {@code headDim}. {@code table} is {@link RotaryTable}'s cos/sin matrix.
     */
    void rotary(Matrix x, int heads, int headDim, int startPos, Matrix table);

    /** {@code out = silu(gate) * up}, element-wise (SwiGLU). */
    void siluMul(Matrix gate, Matrix up, Matrix out);

    /**
     * SwiGLU over a fused gate|up projection: {@code out[t][i] = silu(gu[t][i]) * gu[t][f + i]} with
     * {@code f = out.cols()} and gu {@code [rows, 2f]}, one pass (no split of gu).
     */
    void siluMulPacked(Matrix gateUp, Matrix out);

    /**
     * Residual add then RMSNorm, fused: {@code x += delta}, then {@code normed = rmsNorm(x)} row-wise (the
     * residual stream stays in x). The same f32 operations in the same order as {@link #add} then
     * {@link #rmsNorm}; devices may do it in one pass.
     */
    default void addRmsNorm(Matrix x, Matrix delta, Matrix weight, float eps, Matrix normed) {
        add(x, delta, x);
        rmsNorm(x, weight, eps, normed);
    }

    /**
     * The down projection over a fused gate|up output: {@code out = siluMulPacked(gateUp) · wᵀ}, gateUp
     * {@code [m, 2k]}, w {@code [n, k]}, out {@code [m, n]}. The default is {@link #siluMulPacked} into g
     * ({@code [m, k]} scratch) then {@link #matmulT}; devices may compute the activation as the product loads it
     * (one launch, g untouched) with the same f32 operations, so out is the same either way.
     */
    default void siluMatmulT(Matrix gateUp, Matrix g, Matrix w, Matrix out) {
        siluMulPacked(gateUp, g);
        matmulT(g, w, out);
    }

    /**
     * A projection into the residual stream, then the norm after it: {@code residual += a · wᵀ},
     * {@code normed = rmsNorm(residual)} row-wise (a {@code [m, k]}, w {@code [n, k]}, residual and normed
     * {@code [m, n]}, normWeight {@code [1, n]}). The default is {@link #matmulT} into out ({@code [m, n]}
     * scratch, unspecified afterwards) then {@link #addRmsNorm}; devices may fuse both into the GEMM (one launch)
     * with the same f32 operations. a must not alias residual or normed; normed may alias nothing else read here.
     */
    /**
     * The row-parallel GEMM of a tensor-parallel layer with the collective after it fused in: {@code x · wᵀ} is this
     * rank's partial sum, and {@code allReduce} (the group's, bound for this rank) sums the partials over the ranks
     * into the residual and writes {@code normed = rmsNorm(residual)}, all in one kernel. Returns false, having done
     * nothing (no collective taken), where this device has no such kernel for the shapes; the same answer on every
     * rank for the same shapes.
     */
    default boolean matmulTAllReduceAddRmsNorm(Matrix x, Matrix w, Matrix residual, RmsNorm norm, Matrix normed,
                                               AllReduceEpilogue allReduce) {
        return false;
    }

    default void matmulTAddRmsNorm(Matrix a, Matrix w, Matrix out, Matrix residual, Matrix normWeight, float eps,
                                   Matrix normed) {
        matmulT(a, w, out);
        addRmsNorm(residual, out, normWeight, eps, normed);
    }

    /**
     * {@link #siluMatmulT} then the residual add and norm of {@link #matmulTAddRmsNorm} (the MLP's down at tp = 1):
     * {@code residual += siluMulPacked(gateUp) · wᵀ}, {@code normed = rmsNorm(residual)}; g and out are scratch.
     */
    default void siluMatmulTAddRmsNorm(Matrix gateUp, Matrix g, Matrix w, Matrix out, Matrix residual,
                                       Matrix normWeight, float eps, Matrix normed) {
        siluMulPacked(gateUp, g);
        matmulTAddRmsNorm(g, w, out, residual, normWeight, eps, normed);
    }

    /**
     * The projection after a norm, reading the raw residual stream: {@code out = rmsNorm(x) · wᵀ} (x
     * {@code [m, k]}, normWeight {@code [1, k]}, w {@code [n, k]}, out {@code [m, n]}). The default is
     * {@link #rmsNorm} into normed ({@code [m, k]} scratch, unspecified afterwards) then {@link #matmulT}; devices
     * may apply the norm inside the product (one launch; the sums are then scaled once per row, which rounds
     * differently from scaling the inputs). x must not alias out.
     */
    default void rmsNormMatmulT(Matrix x, Matrix normWeight, float eps, Matrix normed, Matrix w, Matrix out) {
        rmsNorm(x, normWeight, eps, normed);
        matmulT(normed, w, out);
    }

    /**
     * The MLP's gate|up with its SwiGLU: {@code g = siluMulPacked(x · wᵀ)}, w the stacked gate then up rows
     * {@code [2F, k]}, g {@code [m, F]}. The default is {@link #matmulT} into gu ({@code [m, 2F]} scratch) then
     * {@link #siluMulPacked}; devices may apply the SwiGLU in the product's epilogue (the same f32 operations).
     */
    default void matmulTSwiGlu(Matrix x, Matrix w, Matrix gu, Matrix g) {
        matmulT(x, w, gu);
        siluMulPacked(gu, g);
    }

    /** {@link #matmulTSwiGlu} of {@code rmsNorm(x)} (see {@link #rmsNormMatmulT}); normed and gu are scratch. */
    default void rmsNormMatmulTSwiGlu(Matrix x, Matrix normWeight, float eps, Matrix normed, Matrix w, Matrix gu,
                                      Matrix g) {
        rmsNormMatmulT(x, normWeight, eps, normed, w, gu);
        siluMulPacked(gu, g);
    }

    /**
     * A projection into the residual stream: {@code residual += a · wᵀ} (a {@code [m, k]}, w {@code [n, k]},
     * residual {@code [m, n]}). The default is {@link #matmulT} into out ({@code [m, n]} scratch) then
     * {@link #add}; devices may add in the product's epilogue (one launch, the same f32 operations). a must not
     * alias residual.
     */
    default void matmulTAdd(Matrix a, Matrix w, Matrix out, Matrix residual) {
        matmulT(a, w, out);
        add(residual, out, residual);
    }

    /**
     * {@link #siluMatmulT} into the residual stream: {@code residual += siluMulPacked(gateUp) · wᵀ}; g
     * ({@code [m, k]}) and out are scratch. The default is {@link #siluMulPacked} into g then {@link #matmulTAdd}.
     */
    default void siluMatmulTAdd(Matrix gateUp, Matrix g, Matrix w, Matrix out, Matrix residual) {
        siluMulPacked(gateUp, g);
        matmulTAdd(g, w, out, residual);
    }

    /**
     * Greedy sampling without moving the row: the largest of {@code row}'s f32 elements and its first index
     * ({@link ArgMax}: packed, NaN never wins). The default downloads the row; a device scans it in place and
     * returns 8 bytes.
     */
    default long argmax(Matrix row) {
        float[] values = new float[(int) row.elements()];
        download(row.buffer(), 0, java.lang.foreign.MemorySegment.ofArray(values));
        return ArgMax.of(values, 0, values.length);
    }

    /** {@code out = a + b}, element-wise (residual connections); out may alias a or b. */
    void add(Matrix a, Matrix b, Matrix out);

    /**
     * Vocab-parallel embedding gather: row t of out = row {@code tokens[t] - vocabStart} of table when the token
     * falls in this shard's {@code [vocabStart, vocabStart + table.rows())}, else zeros (the all-reduce that
     * follows fills it in from the owning rank).
     */
    void embed(Matrix table, int vocabStart, int[] tokens, Matrix out);

    /** Copies {@code src} into rows {@code [dstRow, dstRow + src.rows())} of dst (same cols; dtypes may differ). */
    void copyRows(Matrix src, Matrix dst, int dstRow);

    /**
     * Stores the rows of src as positions {@code [startPos, startPos + src.rows())} of a cache (a KV cache write):
     * {@link #copyRows}, except that ops reading the step's position from the device (CUDA graph replays) write
     * at that position.
     */
    default void writePositions(Matrix src, Matrix cache, int startPos) {
        copyRows(src, cache, startPos);
    }

    /**
     * Rotary embedding of q and k, then the k and v rows stored as positions {@code [startPos, startPos + rows)}
     * of the caches: {@link #rotary} of q ({@code heads}) and of k ({@code kvHeads}), then {@link #writePositions}
     * of k and v, as one op (devices fuse it into one launch; inside a CUDA graph the position comes from the
     * device like writePositions'). q holds the rotated queries afterwards; k's own contents are unspecified
     * (the cache holds its rotated rows).
     */
    default void rotaryKvWrite(Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim, int startPos,
                               Matrix table, Matrix kCache, Matrix vCache) {
        rotary(q, heads, headDim, startPos, table);
        rotary(k, kvHeads, headDim, startPos, table);
        writePositions(k, kCache, startPos);
        writePositions(v, vCache, startPos);
    }

    /**
     * A decode layer's attention after the qkv projection, as one op: {@link #rotaryKvWrite} (q and k rotated, k
     * and v stored at positions {@code [startPos, startPos + rows)}), then {@link #attention} of the rotated q
     * into out. Devices fuse it (a GPU: one launch for small steps); the caches and out are as after the two ops,
     * but q's contents afterwards are unspecified (the default leaves it rotated, a fused kernel unrotated), as
     * are k's.
     */
    default void rotaryAttention(Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim, int startPos,
                                 Matrix table, Matrix kCache, Matrix vCache, Matrix out) {
        rotaryKvWrite(q, k, v, heads, kvHeads, headDim, startPos, table, kCache, vCache);
        attention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
    }

    /**
     * Copies columns {@code [fromCol, fromCol + dst.cols())} of every row of src into dst (same rows and dtype):
     * splits a fused projection's output ({@code [tokens, q | k | v]}) into its parts.
     */
    void copyColumns(Matrix src, int fromCol, Matrix dst);

    /**
     * Causal self-attention of this rank's heads over a KV cache. Row t of q ({@code heads * headDim}) is the
     * token at position {@code startPos + t}; it attends to cache rows {@code 0..startPos + t}. Query head h uses
     * key/value head {@code h / (heads / kvHeads)} (grouped-query attention). Scores are scaled by
     * {@code 1/sqrt(headDim)}. out is {@code [q.rows(), heads * headDim]}.
     */
    void attention(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim, int startPos,
                   Matrix out);

    /**
     * Makes work enqueued on {@code stream} after this call run after all work these ops have enqueued so far
     * (a collective that reads their results), without blocking the host. Synchronous ops (host) have finished
     * it already and do nothing.
     */
    void orderBefore(DeviceStream stream);

    /**
     * Makes work these ops enqueue after this call run after all work enqueued on {@code stream} so far (a
     * collective whose results they read). Asynchronous ops (CUDA) order it on the device and return at once;
     * synchronous ops (host) wait for that one stream, their own rank's, never for other ranks' threads.
     */
    void orderAfter(DeviceStream stream);

    /** Waits for everything enqueued so far. */
    void synchronize();

    @Override
    void close();
}
