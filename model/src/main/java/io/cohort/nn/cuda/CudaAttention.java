package io.cohort.nn.cuda;

import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaStream;
import io.cohort.nn.Matrix;
import io.cohort.nn.TensorOps;
import java.lang.foreign.MemorySegment;
import java.util.function.LongSupplier;

/**
 * The attention kernels of one {@link CudaTensorOps} (nn_kernels.cu), on its stream: which kernel takes a step
 * ({@link #kernelFor}, a pure function), each kernel's launch and the scratch they need. Decode takes the
 * one-launch kernel or split-K (flash-decoding); prefill the tensor-core or online kernel (flash-attention);
 * the per-head kernel takes what none of them does. Position-dependent launches read the position from the
 * ops' step block while a graph step is being captured ({@link CudaTensorOps#stepInputs}).
 */
public final class CudaAttention implements AutoCloseable {
    private final NnKernels kernels;
    private final LongSupplier stepPosition;
    private final DeviceScratch scores;
    private final DeviceScratch partials;
    // the fused rotary attention's tickets, an unsigned per (row tile, KV head): zeroed when allocated, and every
    // launch leaves them zero (the last chunk block of a tile resets its own)
    private final DeviceScratch tickets;
    // cohort.nn.fusedAttention: "true" = rotaryAttention on the single-launch split-K kernel (cohort_nn_rotary_attention)
    // measured on an H200 (2026-12-02, DecodeOpsBench, graph-like batches): it was no faster than
    // rotaryKvWrite + split + combine (8x1024 11.4 vs 11.8 us, TinyLlama 14.2 vs 12.7 us), so it is opt-in
    private boolean fusedOn = "true".equals(System.getProperty("cohort.nn.fusedAttention"));
    // cohort.nn.prefill-attention: "simt" = prefill on the f32 online kernel (for comparison); else (default) on
    // the tensor-core kernel where it applies (kernelFor)
    private final boolean prefillTensorCores = !"simt".equals(System.getProperty("cohort.nn.prefill-attention"));
    // cohort.nn.decode-attention: "split" = one-row decode on split-K + combine (two launches, scratch); else
    // (default) on the one-launch decode kernel where it applies (kernelFor)
    private boolean decodeOn = !"split".equals(System.getProperty("cohort.nn.decode-attention"));

    CudaAttention(CudaDevice device, CudaStream stream, NnKernels kernels, LongSupplier stepPosition) {
        this.kernels = kernels;
        this.stepPosition = stepPosition;
        this.scores = new DeviceScratch(device, stream, false);
        this.partials = new DeviceScratch(device, stream, false);
        this.tickets = new DeviceScratch(device, stream, true);
    }

    /**
     * Whether {@link #rotaryAttention} takes the fused kernel where it can (default: system property
     * cohort.nn.fusedAttention, false unless "true"); off, it is rotaryKvWrite then attention.
     */
    public void useFused(boolean on) {
        this.fusedOn = on;
    }

    /** Whether one-row {@link #attention} takes the one-launch decode kernel where it applies (default: on). */
    public void useDecode(boolean on) {
        this.decodeOn = on;
    }

    /** Decode (up to this many query rows) takes the split-K kernels; prefill the tensor-core or online kernel. */
    static final int SPLIT_MAX_ROWS = 16;

    /**
     * The one-launch decode kernel takes caches of up to this many positions: its warps walk the context
     * (DEC_WARPS chunks of 32 positions at a time per head), so past this split-K's wider grid is faster.
     */
    static final int DECODE_MAX_SEQ = 2048;

    /** The attention kernels {@link #attention} chooses from. */
    enum Kernel { DECODE, SPLIT_K, PREFILL_TC, ONLINE, PER_HEAD }

    /**
     * Which kernel {@link #attention} takes for {@code rows} query rows of this head layout over a cache of
     * {@code maxSeq} positions: one query row takes the one-launch decode kernel where {@code decode} (not turned
     * off by {@code cohort.nn.decode-attention=split}), the head size is 64 or 128 and the cache at most
     * {@value #DECODE_MAX_SEQ}; else split-K for decode (up to {@value #SPLIT_MAX_ROWS} rows), the tensor-core
     * kernel for prefill where it applies and {@code tensorCores} (its kernel loaded, not turned off by
     * {@code cohort.nn.prefill-attention=simt}), else the online kernel, where the layout allows each;
     * {@code aligned}: every matrix starts on 16 bytes. Anything else takes the per-head kernel.
     */
    static Kernel kernelFor(int rows, int heads, int kvHeads, int headDim, int maxSeq, boolean aligned,
                            boolean tensorCores, boolean decode) {
        if (aligned && decode && rows == 1 && maxSeq <= DECODE_MAX_SEQ && decodeSupports(heads, kvHeads, headDim)) {
            return Kernel.DECODE;
        }
        if (aligned && rows <= SPLIT_MAX_ROWS && splitKSupports(heads, kvHeads, headDim)) {
            return Kernel.SPLIT_K;
        }
        if (aligned && rows > SPLIT_MAX_ROWS && tensorCores && prefillTcSupports(heads, kvHeads, headDim)) {
            return Kernel.PREFILL_TC;
        }
        if (aligned && onlineSupports(heads, kvHeads, headDim)) {
            return Kernel.ONLINE;
        }
        return Kernel.PER_HEAD;
    }

    /** Attention on the kernel {@link #kernelFor} picks. */
    public void attention(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim, int startPos,
                          Matrix out) {
        boolean tensorCores = prefillTensorCores && kernels.attentionTc(headDim) != null;
        switch (kernelFor(q.rows(), heads, kvHeads, headDim, kCache.rows(), Operands.aligned(q, kCache, vCache, out),
                tensorCores, decodeOn)) {
            case DECODE -> decode(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
            case SPLIT_K -> splitK(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
            case PREFILL_TC -> prefillTc(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
            case ONLINE -> online(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
            case PER_HEAD -> perHead(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
        }
    }

    /** Whether {@link #decode} takes this head layout: whole groups, head size 64 or 128. */
    public static boolean decodeSupports(int heads, int kvHeads, int headDim) {
        return kvHeads > 0 && heads % kvHeads == 0 && (headDim == 64 || headDim == 128);
    }

    /**
     * Decode attention for one query row in one launch (cohort_nn_attention_decode_d64 / _d128): one block per
     * query head whose warps split the context in chunks of 32 positions and combine in shared memory, no
     * scratch. The grid is the heads, so a captured step replays at any position. Where {@link #decodeSupports}
     * and every matrix is 16-byte aligned.
     */
    public void decode(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim,
                                int startPos, Matrix out) {
        checkAttention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
        if (q.rows() != 1 || !decodeSupports(heads, kvHeads, headDim) || !Operands.aligned(q, kCache, vCache, out)) {
            throw new IllegalArgumentException("decode attention takes one row of whole groups of heads of 64 or 128,"
                    + " 16-byte aligned, got " + q.rows() + " rows of " + heads + "/" + kvHeads + " of " + headDim);
        }
        kernels.pointers(q.buffer().address(), kCache.buffer().address(), vCache.buffer().address(),
                        out.buffer().address(), 0)
                .sizes(0, 1, q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition.getAsLong())
                .launch(headDim == 64 ? kernels.attentionDecode64 : kernels.attentionDecode128, heads,
                        NnKernels.DECODE_THREADS, "attention decode");
    }

    /** Whether {@link #splitK} takes this head layout (the kernels' shared-memory limits, float4 rows). */
    public static boolean splitKSupports(int heads, int kvHeads, int headDim) {
        return kvHeads > 0 && heads % kvHeads == 0 && heads / kvHeads <= NnKernels.ATTN_MAX_GROUP
                && headDim > 0 && headDim <= NnKernels.ATTN_MAX_D && headDim % 4 == 0;
    }

    /** Query rows one attention block serves: {@value NnKernels#ATTN_TILE} query vectors over the group's heads. */
    private static int tileRows(int heads, int kvHeads) {
        return NnKernels.ATTN_TILE / (heads / kvHeads);
    }

    /**
     * Flash-decoding: the KV length split into chunks of {@value NnKernels#ATTN_CHUNK} positions, one block per
     * (tile of query rows, KV head, chunk) that serves the tile's rows and every query head of the group from one
     * read of K and V, then a combine kernel (cohort_nn_attention_split / _combine). The grid covers the cache's
     * capacity, so a captured step replays at any position. Scratch: acc [rows*heads, chunks, headDim] then m, l
     * [rows*heads, chunks, 2]. Its math on the host: {@link io.cohort.nn.host.SplitKAttention}.
     */
    public void splitK(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim,
                                int startPos, Matrix out) {
        checkAttention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
        if (!splitKSupports(heads, kvHeads, headDim) || !Operands.aligned(q, kCache, vCache, out)) {
            throw new IllegalArgumentException("split-K attention takes groups of at most " + NnKernels.ATTN_MAX_GROUP
                    + " heads of at most " + NnKernels.ATTN_MAX_D + " (a multiple of 4), 16-byte aligned, got "
                    + heads + "/" + kvHeads + " of " + headDim);
        }
        int chunks = (kCache.rows() + NnKernels.ATTN_CHUNK - 1) / NnKernels.ATTN_CHUNK;
        int tiles = (q.rows() + tileRows(heads, kvHeads) - 1) / tileRows(heads, kvHeads);
        long partialAt = partials.atLeast(4L * q.rows() * heads * chunks * (headDim + 2)).address();
        kernels.pointers(q.buffer().address(), kCache.buffer().address(), vCache.buffer().address(), 0,
                        partialAt)
                .sizes(0, q.rows(), q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition.getAsLong())
                .launch(kernels.attentionSplit, tiles * kvHeads * chunks, NnKernels.ATTN_THREADS, "attention split");
        kernels.pointers(0, 0, 0, out.buffer().address(), partialAt)
                .sizes(0, q.rows(), q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition.getAsLong())
                .launch(kernels.attentionCombine, q.rows() * heads, 128, "attention combine");
    }

    /**
     * Whether {@link #rotaryAttention} takes the fused kernel for {@code rows} query rows of this head layout: the
     * split-K kernels' steps (1 .. {@value #SPLIT_MAX_ROWS} rows) and layouts. (It also needs the caches and out
     * 16-byte aligned.)
     */
    public static boolean fusedSupports(int rows, int heads, int kvHeads, int headDim) {
        return rows >= 1 && rows <= SPLIT_MAX_ROWS && splitKSupports(heads, kvHeads, headDim);
    }

    /**
     * Rotary, KV write and attention of a step in one launch: the one-row decode kernel ({@link #rotaryDecode})
     * where it applies and is on, else (opt-in, {@link #useFused}) cohort_nn_rotary_attention where {@link #fusedSupports} and the
     * caches and out are 16-byte aligned: rotary of q and k, the step's k and v into the caches and split-K
     * attention with its combine done by each (row tile, KV head)'s last chunk block to finish (a ticket counter
     * per pair). The same bits as {@link TensorOps#rotaryKvWrite} then {@link #splitK}, caches included; q is left
     * unrotated. Where neither applies (or both are off), false and nothing is enqueued: the caller runs
     * rotaryKvWrite then attention.
     */
    public boolean rotaryAttention(Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim, int startPos,
                                   Matrix table, Matrix kCache, Matrix vCache, Matrix out) {
        if (decodeOn && q.rows() == 1 && kCache.rows() <= DECODE_MAX_SEQ && decodeSupports(heads, kvHeads, headDim)
                && Operands.aligned(q, k, v, table, kCache, vCache, out)) {
            rotaryDecode(q, k, v, heads, kvHeads, headDim, startPos, table, kCache, vCache, out);
            return true;
        }
        if (!fusedOn || !fusedSupports(q.rows(), heads, kvHeads, headDim) || !Operands.aligned(kCache, vCache, out)) {
            return false;
        }
        rotaryFused(q, k, v, heads, kvHeads, headDim, startPos, table, kCache, vCache, out);
        return true;
    }

    /**
     * One decode step's rotary of q and k, its K and V into the caches and its attention in one launch
     * (cohort_nn_rotary_attention_decode_d64 / _d128: {@link #decode}'s kernel, rotating as it loads): the
     * caches and out have the bits of {@link TensorOps#rotaryKvWrite} then {@link #decode}; q is left unrotated.
     * Taken by {@link #rotaryAttention} for one row where the decode kernel applies (and it is on).
     */
    public void rotaryDecode(Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim, int startPos,
                                      Matrix table, Matrix kCache, Matrix vCache, Matrix out) {
        for (Matrix m : new Matrix[] {k, v, table}) {
            Operands.f32(m, "rotaryAttention operand");
        }
        checkAttention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
        int kvw = kvHeads * headDim;
        if (q.rows() != 1 || k.rows() != 1 || v.rows() != 1 || k.cols() != kvw || v.cols() != kvw
                || table.cols() != headDim || startPos + 1 > table.rows() || !decodeSupports(heads, kvHeads, headDim)
                || !Operands.aligned(q, k, v, table, kCache, vCache, out)) {
            throw new IllegalArgumentException("rotary decode attention takes one row of whole groups of heads of 64 or"
                    + " 128, 16-byte aligned: q " + q + ", k " + k + ", v " + v + " as " + heads + "/" + kvHeads
                    + " heads of " + headDim + " at " + startPos + ", table " + table);
        }
        kernels.pointers(q.buffer().address(), kCache.buffer().address(), vCache.buffer().address(),
                        out.buffer().address(), 0)
                .extra(k.buffer().address(), v.buffer().address())
                .more(table.buffer().address(), 0)
                .sizes(0, 1, q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition.getAsLong())
                .launch(headDim == 64 ? kernels.rotaryAttentionDecode64 : kernels.rotaryAttentionDecode128, heads,
                        NnKernels.DECODE_THREADS, "rotary attention decode");
    }

    /** The fused kernel itself (tests and the bench call it directly; throws where it does not apply). */
    public void rotaryFused(Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim, int startPos,
                                     Matrix table, Matrix kCache, Matrix vCache, Matrix out) {
        for (Matrix m : new Matrix[] {k, v, table}) {
            Operands.f32(m, "rotaryAttention operand");
        }
        checkAttention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
        int kvw = kvHeads * headDim;
        if (k.cols() != kvw || v.cols() != kvw || k.rows() != q.rows() || v.rows() != q.rows()
                || table.cols() != headDim || startPos + q.rows() > table.rows()) {
            throw new IllegalArgumentException("rotaryAttention: q " + q + ", k " + k + ", v " + v + " as " + heads + "/"
                    + kvHeads + " heads of " + headDim + " at " + startPos + " into " + kCache + ", table " + table);
        }
        if (!fusedSupports(q.rows(), heads, kvHeads, headDim) || !Operands.aligned(kCache, vCache, out)) {
            throw new IllegalArgumentException("fused rotary attention takes 1.." + SPLIT_MAX_ROWS + " rows of groups"
                    + " of at most " + NnKernels.ATTN_MAX_GROUP + " heads of at most " + NnKernels.ATTN_MAX_D
                    + " (a multiple of 4), caches and out 16-byte aligned, got " + q.rows() + " rows of " + heads
                    + "/" + kvHeads + " of " + headDim);
        }
        int chunks = (kCache.rows() + NnKernels.ATTN_CHUNK - 1) / NnKernels.ATTN_CHUNK;
        int tiles = (q.rows() + tileRows(heads, kvHeads) - 1) / tileRows(heads, kvHeads);
        long partialAt = partials.atLeast(4L * q.rows() * heads * chunks * (headDim + 2)).address();
        long ticketsAt = tickets.atLeast(4L * tiles * kvHeads).address();
        kernels.pointers(q.buffer().address(), kCache.buffer().address(), vCache.buffer().address(),
                        out.buffer().address(), partialAt)
                .extra(k.buffer().address(), v.buffer().address())
                .more(table.buffer().address(), ticketsAt)
                .sizes(0, q.rows(), q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition.getAsLong())
                .launch(kernels.rotaryAttention, tiles * kvHeads * chunks, NnKernels.ATTN_THREADS, "rotary attention");
    }

    /** Whether {@link #online} takes this head layout (the same kernel body as split-K). */
    public static boolean onlineSupports(int heads, int kvHeads, int headDim) {
        return splitKSupports(heads, kvHeads, headDim);
    }

    /**
     * Attention that never materializes the score matrix (cohort_nn_attention_online, flash-attention): one block
     * per (tile of query rows, KV head) folds KV tiles of {@value NnKernels#ATTN_CHUNK} positions, loaded once into
     * shared memory for the tile's rows and the group's heads, into a running softmax; no scratch. The prefill
     * default of {@link #attention}. Its math on the host: {@link io.cohort.nn.host.SplitKAttention#online}.
     */
    public void online(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim,
                                int startPos, Matrix out) {
        checkAttention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
        if (!onlineSupports(heads, kvHeads, headDim) || !Operands.aligned(q, kCache, vCache, out)) {
            throw new IllegalArgumentException("online attention takes groups of at most " + NnKernels.ATTN_MAX_GROUP
                    + " heads of at most " + NnKernels.ATTN_MAX_D + " (a multiple of 4), 16-byte aligned, got "
                    + heads + "/" + kvHeads + " of " + headDim);
        }
        int tiles = (q.rows() + tileRows(heads, kvHeads) - 1) / tileRows(heads, kvHeads);
        kernels.pointers(q.buffer().address(), kCache.buffer().address(), vCache.buffer().address(),
                        out.buffer().address(), 0)
                .sizes(0, q.rows(), q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition.getAsLong())
                .launch(kernels.attentionOnline, tiles * kvHeads, NnKernels.ATTN_THREADS, "attention online");
    }

    /**
     * Whether {@link #prefillTc} takes this head layout: head_dim 64 or 128 (a kernel each), groups of at
     * most {@value NnKernels#TC_QV} heads (a block's query vectors hold at least one row).
     */
    public static boolean prefillTcSupports(int heads, int kvHeads, int headDim) {
        if (kvHeads <= 0 || heads % kvHeads != 0 || heads / kvHeads > NnKernels.TC_QV) {
            return false;
        }
        for (int d : NnKernels.TC_HEAD_DIMS) {
            if (d == headDim) {
                return true;
            }
        }
        return false;
    }

    /** Whether this device runs {@link #prefillTc} for {@code headDim} (the kernel got its shared memory). */
    public boolean prefillTcAvailable(int headDim) {
        return kernels.attentionTc(headDim) != null;
    }

    /**
     * Prefill attention on tensor cores (cohort_nn_attention_prefill_tc64 / _tc128, flash-attention 2 with TF32
     * WMMA and f32 accumulation and softmax): one block of {@value NnKernels#TC_THREADS} threads per (tile of
     * {@value NnKernels#TC_QV} query vectors = 64 / group rows times the group's heads, KV head) walks KV tiles of
     * {@value NnKernels#TC_KV} positions in shared memory; no scratch. The prefill default of {@link #attention}.
     * TF32 rounds q, k, v and the softmax weights to 10 mantissa bits (u = 2^-11): outputs differ from f32
     * attention by about 1e-3 of their magnitude (bound in CudaPrefillAttentionTest).
     */
    public void prefillTc(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim,
                                   int startPos, Matrix out) {
        checkAttention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
        MemorySegment kernel = kernels.attentionTc(headDim);
        if (!prefillTcSupports(heads, kvHeads, headDim) || !Operands.aligned(q, kCache, vCache, out) || kernel == null) {
            throw new IllegalArgumentException("tensor-core prefill attention takes groups of at most "
                    + NnKernels.TC_QV + " heads of 64 or 128, 16-byte aligned, on a device that grants its shared"
                    + " memory, got " + heads + "/" + kvHeads + " of " + headDim);
        }
        int tileRows = NnKernels.TC_QV / (heads / kvHeads);
        int tiles = (q.rows() + tileRows - 1) / tileRows;
        kernels.pointers(q.buffer().address(), kCache.buffer().address(), vCache.buffer().address(),
                        out.buffer().address(), 0)
                .sizes(0, q.rows(), q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition.getAsLong())
                .launch(kernel, tiles * kvHeads, NnKernels.TC_THREADS, NnKernels.tcSharedBytes(headDim),
                        "attention prefill (tensor cores)");
    }

    /** One block per (query row, head) over the whole row, scores in scratch (cohort_nn_attention). */
    public void perHead(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim,
                                 int startPos, Matrix out) {
        checkAttention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
        int blocks = q.rows() * heads;
        long scoresAt = scores.atLeast(4L * blocks * kCache.rows()).address();
        kernels.pointers(q.buffer().address(), kCache.buffer().address(), vCache.buffer().address(),
                        out.buffer().address(), scoresAt)
                .sizes(0, q.rows(), q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition.getAsLong())
                .launch(kernels.attention, blocks, 128, "attention");
    }

    private static void checkAttention(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim,
                                       int startPos, Matrix out) {
        Operands.f32(q, "attention q");
        Operands.f32(kCache, "K cache");
        Operands.f32(vCache, "V cache");
        Operands.f32(out, "attention output");
        if (heads % kvHeads != 0 || q.cols() != heads * headDim || kCache.cols() != kvHeads * headDim
                || vCache.cols() != kCache.cols() || out.rows() != q.rows() || out.cols() != q.cols()
                || startPos + q.rows() > kCache.rows()) {
            throw new IllegalArgumentException("attention shapes: q " + q + ", k " + kCache + ", v " + vCache + ", out "
                    + out + " for " + heads + "/" + kvHeads + " heads of " + headDim + " from position " + startPos);
        }
    }

    @Override
    public void close() {
        scores.close();
        partials.close();
        tickets.close();
    }
}
