package io.cohort.nn.host;

import io.cohort.core.DType;
import io.cohort.nn.Matrix;
import java.lang.foreign.MemorySegment;

/**
 * The split-K decode attention (flash-decoding) of the CUDA kernels cohort_nn_attention_split and _combine, in
 * f32 on host matrices, chunk by chunk in the kernels' order of operations: per chunk of {@code chunk} positions
 * the max m of the scaled scores, l = Σ e^(s - m) and acc = Σ e^(s - m) v; then M = max m, L = Σ l e^(m - M),
 * out = Σ acc e^(m - M) / L. It is the reference that bounds how far splitting moves the result from
 * {@link HostTensorOps#attention} (one softmax over the whole row), checked in CI without a GPU.
 */
public final class SplitKAttention {
    private SplitKAttention() {
    }

    /**
     * The online form (cohort_nn_attention_online, prefill): the same chunks folded in one pass into a running
     * max m, sum l and accumulator, each rescaled by e^(m_old - m_new) as a chunk raises the max; out = acc / l.
     */
    public static void online(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim,
                              int startPos, int chunk, Matrix out) {
        int group = heads / kvHeads, kvCols = kCache.cols();
        MemorySegment qs = q.buffer().segment(), ks = kCache.buffer().segment(), vs = vCache.buffer().segment();
        MemorySegment os = out.buffer().segment();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        for (int t = 0; t < q.rows(); t++) {
            int last = startPos + t;
            for (int h = 0; h < heads; h++) {
                long qBase = (long) t * q.cols() + (long) h * headDim;
                long kvCol = (long) (h / group) * headDim;
                float m = Float.NEGATIVE_INFINITY, l = 0;
                float[] acc = new float[headDim];
                for (int from = 0; from <= last; from += chunk) {
                    int n = Math.min(last - from + 1, chunk);
                    float[] s = new float[n];
                    float mx = Float.NEGATIVE_INFINITY;
                    for (int r = 0; r < n; r++) {
                        float dot = 0;
                        for (int i = 0; i < headDim; i++) {
                            dot += DType.F32.get(qs, qBase + i) * DType.F32.get(ks, (long) (from + r) * kvCols + kvCol + i);
                        }
                        s[r] = dot * scale;
                        mx = Math.max(mx, s[r]);
                    }
                    float mNew = Math.max(m, mx), sum = 0;
                    for (int r = 0; r < n; r++) {
                        s[r] = (float) Math.exp(s[r] - mNew);
                        sum += s[r];
                    }
                    float f = (float) Math.exp(m - mNew);
                    l = l * f + sum;
                    m = mNew;
                    for (int i = 0; i < headDim; i++) {
                        float a = acc[i] * f;
                        for (int r = 0; r < n; r++) {
                            a += s[r] * DType.F32.get(vs, (long) (from + r) * kvCols + kvCol + i);
                        }
                        acc[i] = a;
                    }
                }
                for (int i = 0; i < headDim; i++) {
                    DType.F32.set(os, qBase + i, acc[i] / l);
                }
            }
        }
    }

    /** Same contract as {@link HostTensorOps#attention} for f32 matrices, with the KV length split every {@code chunk}. */
    public static void attention(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim,
                                 int startPos, int chunk, Matrix out) {
        for (Matrix m : new Matrix[] {q, kCache, vCache, out}) {
            if (m.dtype() != DType.F32) {
                throw new IllegalArgumentException("split-K attention is f32, got " + m);
            }
        }
        int group = heads / kvHeads, kvCols = kCache.cols();
        MemorySegment qs = q.buffer().segment(), ks = kCache.buffer().segment(), vs = vCache.buffer().segment();
        MemorySegment os = out.buffer().segment();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        for (int t = 0; t < q.rows(); t++) {
            int last = startPos + t, used = last / chunk + 1;
            for (int h = 0; h < heads; h++) {
                long qBase = (long) t * q.cols() + (long) h * headDim;
                long kvCol = (long) (h / group) * headDim;
                float[] m = new float[used], l = new float[used];
                float[][] acc = new float[used][headDim];
                for (int c = 0; c < used; c++) {
                    int from = c * chunk, n = Math.min(last - from + 1, chunk);
                    float[] s = new float[n];
                    float mx = Float.NEGATIVE_INFINITY;
                    for (int r = 0; r < n; r++) {
                        long kBase = (long) (from + r) * kvCols + kvCol;
                        float dot = 0;
                        for (int i = 0; i < headDim; i++) {
                            dot += DType.F32.get(qs, qBase + i) * DType.F32.get(ks, kBase + i);
                        }
                        s[r] = dot * scale;
                        mx = Math.max(mx, s[r]);
                    }
                    float sum = 0;
                    for (int r = 0; r < n; r++) {
                        s[r] = (float) Math.exp(s[r] - mx);
                        sum += s[r];
                    }
                    m[c] = mx;
                    l[c] = sum;
                    for (int i = 0; i < headDim; i++) {
                        float a = 0;
                        for (int r = 0; r < n; r++) {
                            a += s[r] * DType.F32.get(vs, (long) (from + r) * kvCols + kvCol + i);
                        }
                        acc[c][i] = a;
                    }
                }
                float mAll = Float.NEGATIVE_INFINITY;
                for (int c = 0; c < used; c++) {
                    mAll = Math.max(mAll, m[c]);
                }
                float sum = 0;
                for (int c = 0; c < used; c++) {
                    sum += l[c] * (float) Math.exp(m[c] - mAll);
                }
                float inv = 1f / sum;
                for (int i = 0; i < headDim; i++) {
                    float a = 0;
                    for (int c = 0; c < used; c++) {
                        a += acc[c][i] * (float) Math.exp(m[c] - mAll);
                    }
                    DType.F32.set(os, qBase + i, a * inv);
                }
            }
        }
    }
}
