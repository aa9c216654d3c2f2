package io.cohort.nn.cuda;

import io.cohort.core.DType;

/**
 * The launch rules of the decode GEMM kernels (src/main/cuda/gemv.cu): when {@link CudaTensorOps#matmulT} takes
 * them instead of the cast + cuBLAS path, which tile of activation rows, and the grid. Pure functions, so the
 * dispatch is testable without a GPU. The tables mirror the kernel instantiations in gemv.cu.
 *
 * <p>The fused forms ({@link Fused}: SwiGLU or RMSNorm prologue, residual add or add + RMSNorm epilogue) run the
 * same body with the same grid and block; except for the norm prologue (which scales the sums, not the inputs)
 * their products are the plain kernel's bit for bit. They exist for tiles of
 * up to {@value #FUSED_MAX_ROWS} rows ({@link #fuses}), and CudaTensorOps takes them where it would take the
 * plain GEMV for the same product, else the unfused ops.
 */
final class Gemv {
    /** Activation rows per kernel (cohort_gemv_&lt;type&gt;_m&lt;M&gt;); a call takes the smallest tile that holds m. */
    static final int[] TILES = {1, 2, 4, 8, 16};
    /** Output columns (weight rows) per block, per tile. */
    static final int[] COLS = {4, 4, 8, 4, 4};
    /** 16-byte weight vectors per column each thread has in flight, per tile. */
    static final int[] UNROLL = {4, 4, 1, 2, 1};
    static final int MAX_ROWS = TILES[TILES.length - 1];
    static final int MAX_THREADS = 256;
    /** Weights per 16-byte vector load: k must be a multiple, and a and w 16-byte aligned. */
    static final int VECTOR = 8;

    /** Rows of the largest tile the fused forms are built for (cohort_gemv_&lt;form&gt;_&lt;type&gt;_m1, _m2, _m4). */
    static final int FUSED_MAX_ROWS = 4;
    /** How many of {@link #TILES} (the first) have fused forms. */
    static final int FUSED_TILES = 3;

    /** The fused forms of the GEMV (their kernels: cohort_gemv_&lt;kernel&gt;_&lt;type&gt;_m&lt;M&gt;). */
    enum Fused {
        /** a is the packed gate|up [m, 2k]; the activation silu(gate) * up is computed as it is loaded. */
        SILU("silu", true, false, false, false, false),
        /** out is the residual, added into in place; the last block writes the RMSNorm of every row. */
        ADDNORM("addnorm", false, false, true, true, false),
        /** Both: the MLP's down at tp = 1 (opt-in, cohort.nn.fusedGemv). */
        SILU_ADDNORM("silu_addnorm", true, false, true, true, false),
        /** a is the raw residual; its RMSNorm (norm weight of the weights' type) is applied in the prologue. */
        NORM("norm", false, true, false, false, false),
        /** out is the residual, added into in place (the next GEMV's prologue does the norm). */
        ADD("add", false, false, true, false, false),
        /** SILU's prologue and ADD's epilogue (opt-in, cohort.nn.fusedGemv: the prologue is slower). */
        SILU_ADD("silu_add", true, false, true, false, false),
        /**
         * w is the stacked gate|up [2F, k], out is g [m, F] = silu(gate) * up: each block's columns are a run of
         * gate rows and the matching up rows (the same bits as the GEMV then siluMulPacked).
         */
        SWIGLU("swiglu", false, false, false, false, true),
        /** NORM's prologue and SWIGLU's epilogue: gate|up at tp = 1. */
        NORM_SWIGLU("norm_swiglu", false, true, false, false, true);

        final String kernel;
        /**
         * silu: SwiGLU prologue; norm: RMSNorm prologue; add: out is the residual; addNorm: then its norm; swiglu:
         * the SwiGLU of the stacked gate|up product as the epilogue.
         */
        final boolean silu, norm, add, addNorm, swiglu;

        Fused(String kernel, boolean silu, boolean norm, boolean add, boolean addNorm, boolean swiglu) {
            this.kernel = kernel;
            this.silu = silu;
            this.norm = norm;
            this.add = add;
            this.addNorm = addNorm;
            this.swiglu = swiglu;
        }

        /** The profiler's label (KernelTimeline) of a launch of this form. */
        String label() {
            return "gemv " + kernel.replace('_', '+');
        }
    }

    private Gemv() {
    }

    /**
     * Whether a fused form exists for {@code m} rows (1..{@value #FUSED_MAX_ROWS}); the other conditions are the
     * plain kernel's ({@link #supports}, {@link #faster}) for the same product.
     */
    static boolean fuses(int m) {
        return m >= 1 && m <= FUSED_MAX_ROWS && tile(m) < FUSED_TILES;
    }

    /**
     * Whether the kernel can compute {@code out[m, n] = a[m, k] · w[n, k]ᵀ}: f32 activations and output, bf16 or
     * f16 weights, 1..{@value #MAX_ROWS} rows, whole 16-byte vectors (k % 8 == 0, both operands 16-byte aligned).
     */
    static boolean supports(DType a, DType w, DType out, int m, int k, long aAddress, long wAddress) {
        return a == DType.F32 && out == DType.F32 && (w == DType.BF16 || w == DType.F16)
                && m >= 1 && m <= MAX_ROWS && k > 0 && k % VECTOR == 0
                && (aAddress & 15) == 0 && (wAddress & 15) == 0;
    }

    /**
     * Whether the kernel beats cast + cuBLAS for {@code m} rows of a weight of {@code weightBytes}, as measured on
     * an H200 with the weights rotated through more than L2 holds (GemvSweepBench, 2026-12-02, bf16, % of copy
     * bandwidth, GEMV against cuBLAS): one or two rows always (8B qkv 87 / 76% against 67%, o_proj 74 / 68
     * against 55, gate_up 100 / 98 against 86, down 95 / 86 against 81; the TinyLlama shapes alike); 3-4 rows up
     * to 4 MiB (3.5 vs 4.6 us on [2048, 1024]). Past that the kernel re-reads the activations from L2 once per
     * block (traffic 2m/COLS times the weights'): 46% at 8B qkv and 4 rows, where cuBLAS's tiled GEMM is flat at
     * about its 1-row time up to 16 rows.
     */
    static boolean faster(int m, long weightBytes) {
        return m <= 2 || (m <= 4 && weightBytes <= 4L << 20);
    }

    /** Index into {@link #TILES} of the smallest tile of at least {@code m} rows (1 <= m <= 16). */
    static int tile(int m) {
        for (int i = 0; i < TILES.length; i++) {
            if (TILES[i] >= m) {
                return i;
            }
        }
        throw new IllegalArgumentException("GEMV takes at most " + MAX_ROWS + " rows, got " + m);
    }

    /**
     * A shape of the bf16 GEMV for 1 or 2 rows beside the tile's own (gemv.cu, cohort_gemv_bf16_m&lt;rows&gt;_c&lt;cols&gt;
     * _u&lt;unroll&gt;), launched by {@link CudaTensorOps#matmulTGemvVariant} for GemvSweepBench only.
     */
    record Variant(int rows, int cols, int unroll) {
        String kernel() {
            return "cohort_gemv_bf16_m" + rows + "_c" + cols + "_u" + unroll;
        }

        @Override
        public String toString() {
            return rows + " rows, " + cols + " columns a block, " + unroll + " vectors in flight a column";
        }
    }

    /** Mirrors gemv.cu's COHORT_GEMV_VARIANT lines. */
    static final Variant[] VARIANTS = {
        new Variant(1, 2, 4), new Variant(1, 2, 8), new Variant(1, 4, 2), new Variant(1, 4, 8), new Variant(1, 8, 2),
        new Variant(2, 2, 4), new Variant(2, 4, 2), new Variant(2, 8, 2),
    };

    /** Blocks for {@code cols} output columns a block. */
    static int blocksFor(int cols, int n) {
        return (n + cols - 1) / cols;
    }

    /** Threads for {@code unroll} vectors a column in flight (see {@link #threads}). */
    static int threadsFor(int unroll, int k) {
        int vectors = k / VECTOR;
        int perThread = (vectors + unroll - 1) / unroll;
        int t = (perThread + 31) / 32 * 32;
        return Math.max(32, Math.min(MAX_THREADS, t));
    }

    /** Blocks: one per {@code COLS[tile]} output columns. */
    static int blocks(int tile, int n) {
        return blocksFor(COLS[tile], n);
    }

    /**
     * Threads per block: enough that each thread does about one round of {@code UNROLL[tile]} vectors of a row
     * (short rows get small blocks, no idle threads), a multiple of 32, at most {@value #MAX_THREADS}.
     */
    static int threads(int tile, int k) {
        return threadsFor(UNROLL[tile], k);
    }
}
