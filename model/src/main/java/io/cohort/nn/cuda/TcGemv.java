package io.cohort.nn.cuda;

import io.cohort.core.DType;

/**
 * The launch rules of the tensor-core skinny GEMM (gemv.cu, cohort_tcgemv_&lt;type&gt;_m&lt;8|16&gt;_v&lt;i&gt;):
 * {@code out[m, n] = a[m, k] · w[n, k]ᵀ} with f32 activations (rounded to the weight type as they are loaded),
 * bf16 or f16 weights and mma.sync.m16n8k16 with f32 accumulation. Pure functions, testable without a GPU; the
 * variant table mirrors the COHORT_TCGEMV instantiations in gemv.cu.
 *
 * <p>A variant is a block shape: {@code rowsPerWarp} weight rows per warp (one or two 16-row mma tiles), {@code
 * warps} warps per block, of which {@code kSplit} consecutive ones split k over the same rows (so a block owns
 * {@code rowsPerWarp * warps / kSplit} rows), and {@code unroll} 32-wide k chunks (2 16-byte weight loads per
 * row tile each) in flight per lane. Each variant exists for two token tiles: m8 (1..8 rows of a, one n8 mma
 * tile) and m16 (9..16, two).
 *
 * <p>CudaTensorOps takes it where {@link #takes} says (on unless {@code -Dcohort.nn.tcGemv=false}); with the
 * weights rotated through more than L2 (DecodeOpsBench, 2026-12-03) it beats cuBLAS at 4 rows by 1.1x (8B qkv) to
 * 1.5x (TinyLlama o_proj), at 16 rows by 1.03x (8B o_proj) to 1.36x (TinyLlama o_proj).
 */
final class TcGemv {
    /** One block shape (see the class comment). */
    record Variant(int rowsPerWarp, int warps, int kSplit, int unroll) {
        /** Weight rows (output columns) per block. */
        int blockRows() {
            return rowsPerWarp * warps / kSplit;
        }

        int threads() {
            return warps * 32;
        }

        @Override
        public String toString() {
            return rowsPerWarp + "r/w " + warps + "w ks" + kSplit + " u" + unroll;
        }
    }

    /** Mirrors gemv.cu's COHORT_TCGEMV(v, rows per warp / 16, warps, k-split, unroll) lines, in order. */
    static final Variant[] VARIANTS = {
        new Variant(16, 4, 4, 4),
        new Variant(16, 8, 8, 4),
        new Variant(32, 4, 4, 4),
        new Variant(32, 8, 8, 2),
        new Variant(16, 8, 4, 8),
        new Variant(16, 4, 4, 8),
        new Variant(16, 16, 16, 4),
        new Variant(16, 16, 16, 2),
        new Variant(32, 16, 16, 2),
    };
    /** Token tiles: the m8 kernels take up to 8 rows of a, the m16 kernels up to 16. */
    static final int[] TILES = {8, 16};
    static final int MAX_ROWS = 16;
    /** Weights per 16-byte vector: k must be a multiple (a lane's 8-k segment of a chunk is all in or all out). */
    static final int VECTOR = 8;
    /** The variant {@link #defaultVariant} picks (before the sweep: 16 rows per warp, k over 8 warps). */
    static final int DEFAULT = 1;

    private TcGemv() {
    }

    /**
     * Whether the kernels can compute the product: f32 activations and output, bf16 or f16 weights, 1..16 rows,
     * k a positive multiple of 8, both operands 16-byte aligned. Any n (the last block's rows are clipped).
     */
    static boolean supports(DType a, DType w, DType out, int m, int k, long aAddress, long wAddress) {
        return a == DType.F32 && out == DType.F32 && (w == DType.BF16 || w == DType.F16)
                && m >= 1 && m <= MAX_ROWS && k > 0 && k % VECTOR == 0
                && (aAddress & 15) == 0 && (wAddress & 15) == 0;
    }

    /**
     * Whether matmulT takes the kernel for m rows of a [n, k] weight of {@code weightBytes}: where it measured
     * fastest on an H200 with the weights rotated through more than L2 holds (GemvSweepBench, 2026-12-02, % of
     * copy bandwidth, variant 1 against cuBLAS): 3..16 rows past the GEMV's domain ({@link Gemv#faster}) on rows of
     * at most 4096, weights of at most 64 MiB up to 8 rows (8B qkv 74 / 72% against 65 at 4 / 8 rows, 8B o_proj 59
     * against 54, TinyLlama qkv 43 against 31) and of at most 32 MiB past that (8B o_proj 55 against 53 at 16
     * rows, where 8B qkv is 48 against 65). cuBLAS leads on larger weights and longer rows (8B gate_up 93 against
     * 85, 8B down 81 against 68). Longer rows are taken up to 32 MiB since variant 6 (2026-12-03): TinyLlama down
     * ([2048, 5632], 23 MiB) 9.01 / 10.60 us against cuBLAS's 12.16 / 12.36 at 4 / 16 rows.
     */
    static boolean takes(int m, int k, long weightBytes) {
        return m >= 3 && m <= MAX_ROWS && !Gemv.faster(m, weightBytes) && (k <= 4096 || weightBytes <= 32L << 20)
                && weightBytes <= (m <= 8 ? 64L << 20 : 32L << 20);
    }

    /** Index into {@link #TILES}: 0 (m8 kernels) for m <= 8, else 1 (m16). */
    static int tile(int m) {
        if (m < 1 || m > MAX_ROWS) {
            throw new IllegalArgumentException("tensor-core GEMV takes 1.." + MAX_ROWS + " rows, got " + m);
        }
        return m <= 8 ? 0 : 1;
    }

    /**
     * The variant for an m x n x k product. Few weight rows make few blocks of variant 1 (16 rows a block: 128
     * blocks for 2048 rows on 132 SMs), so short weights take 16 warps splitting k (GemvSweepBench on an H200,
     * weights rotated, 2026-12-03, us at 4 / 16 rows): n <= 2048 with k >= 2048, variant 6 (TinyLlama o_proj 4.22 / 5.33 against
     * variant 1's 5.15 / 5.71, down 9.01 / 10.60 against 12.72 / 13.27); n <= 4096 with k >= 4096, variant 7 (8B
     * o_proj 11.27 / 13.67 against 13.33 / 14.31); else variant 1 (8B qkv 15.67 at 4 rows, the best; TinyLlama qkv
     * [2560, 2048] 5.71 against 6.09 for variant 7).
     */
    static int defaultVariant(int m, long n, int k) {
        if (n <= 2048 && k >= 2048) {   // not the 8x1024 qkv / o_proj (k 1024): 4.03 / 3.48 us against 3.69 / 3.12 at 16 rows
            return 6;
        }
        if (n <= 4096 && k >= 4096) {
            return 7;
        }
        return DEFAULT;
    }

    /** Blocks: one per {@link Variant#blockRows} weight rows. */
    static int blocks(int variant, long n) {
        int rows = VARIANTS[variant].blockRows();
        return (int) ((n + rows - 1) / rows);
    }

    static int threads(int variant) {
        return VARIANTS[variant].threads();
    }

    /** The kernel's name: cohort_tcgemv_&lt;type&gt;_m&lt;8|16&gt;_v&lt;variant&gt;. */
    static String name(DType weight, int tile, int variant) {
        return "cohort_tcgemv_" + weight.name().toLowerCase(java.util.Locale.ROOT) + "_m" + TILES[tile] + "_v" + variant;
    }
}
