package io.cohort.nn.cuda;

import io.cohort.core.CohortException;
import io.cohort.core.DType;
import io.cohort.cuda.ProgrammaticLaunch;
import io.cohort.cuda.NativeCudaStream;
import io.cohort.nn.AllReduceEpilogue;
import io.cohort.nn.Matrix;
import io.cohort.nn.RmsNorm;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The model layers' kernels (src/main/cuda/nn_kernels.cu, and the decode GEMMs of gemv.cu) loaded into one
 * stream's context and launched on that stream through the driver API, bound with java.lang.foreign (cuModuleLoadData, cuModuleGetFunction,
 * cuLaunchKernel). Every kernel takes one {@code NnArgs} struct by value; this class owns one struct and one
 * parameter array, so launches allocate nothing (cuLaunchKernel copies the arguments when called).
 * Not thread-safe: one rank's thread drives it.
 */
final class NnKernels {
    static final String RESOURCE = "/io/cohort/cuda/kernels/nn_kernels";
    /**
     * The decode GEMM module (src/main/cuda/gemv.cu); its GemvArgs is NnArgs' first 56 bytes, and the fused forms take
     * all of NnArgs ({@link #gemvNorm} says which later fields carry what).
     */
    static final String GEMV_RESOURCE = "/io/cohort/cuda/kernels/gemv";
    static final long GEMV_ARGS_SIZE = 56;
    private static final int CUDA_ERROR_INVALID_IMAGE = 200;
    private static final int CUDA_ERROR_NO_BINARY_FOR_GPU = 209;
    private static final int CUDA_ERROR_NOT_FOUND = 500;
    static final int THREADS = 256;
    private static final int MAX_GRID = 8192;

    // struct NnArgs (src/main/cuda/nn_args.cuh; x86-64 / aarch64 layout): 5 pointers, int64 n, 9 ints, 1 float, 5 pointers (pos, d, e, f, g)
    private static final long A = 0, B = 8, C = 16, OUT = 24, SCRATCH = 32, N = 40, ROWS = 48, COLS = 52,
            HEADS = 56, KV_HEADS = 60, HEAD_DIM = 64, START_POS = 68, VOCAB_START = 72, TABLE_ROWS = 76,
            MAX_SEQ = 80, EPS = 84, POS = 88, D = 96, E = 104, F = 112, G = 120, SIZE = 128;
    static final long ARGS_SIZE = SIZE;
    /**
     * The attention kernels' constants (nn_kernels.cu, attend): positions per chunk (a split-K chunk, a KV tile),
     * limits (group size, head_dim; head_dim also a multiple of 4), block size, query vectors (rows x group heads)
     * per block: a block serves ATTN_TILE / group query rows.
     */
    static final int ATTN_CHUNK = 32, ATTN_MAX_GROUP = 16, ATTN_MAX_D = 128, ATTN_THREADS = 128, ATTN_TILE = 16;
    /** The one-launch decode attention's block (nn_kernels.cu DEC_WARPS warps; one block per query head). */
    static final int DECODE_THREADS = 8 * 32;
    /** The argmax kernel's one block (nn_kernels.cu ARGMAX_THREADS). */
    static final int ARGMAX_THREADS = 1024;
    /**
     * The tensor-core prefill attention's constants (nn_kernels.cu, attend_tc): query vectors (rows x group heads)
     * per block, KV positions per tile, block size; one kernel per head_dim of {@link #TC_HEAD_DIMS}.
     */
    static final int TC_QV = 64, TC_KV = 64, TC_THREADS = 128;
    static final int[] TC_HEAD_DIMS = {64, 128};
    private static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    /** Dynamic shared memory of the tensor-core prefill kernel for {@code headDim} (nn_kernels.cu tc_smem_floats). */
    static int tcSharedBytes(int headDim) {
        int warps = TC_THREADS / 32, lds = TC_KV + 4;
        return 4 * (TC_KV * (headDim + 4) + TC_KV * (headDim + 8) + warps * 16 * lds + warps * 16);
    }

    static String tcName(int headDim) {
        return "cohort_nn_attention_prefill_tc" + headDim;
    }

    private static volatile Driver driver;

    /**
     * The driver entry points, bound once per process; {@code launchKernelEx} is null on drivers without it
     * (before CUDA 12).
     */
    private record Driver(MethodHandle moduleLoadData, MethodHandle moduleGetFunction, MethodHandle launchKernel,
                          MethodHandle launchKernelEx, MethodHandle funcSetAttribute) {
        static Driver bind() {
            SymbolLookup lib;
            try {
                lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            } catch (IllegalArgumentException e) {
                throw new CohortException("cannot load the CUDA driver (libcuda.so.1)", e);
            }
            Linker l = Linker.nativeLinker();
            return new Driver(
                    l.downcallHandle(lib.find("cuModuleLoadData").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                    l.downcallHandle(lib.find("cuModuleGetFunction").orElseThrow(),
                            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS)),
                    l.downcallHandle(lib.find("cuLaunchKernel").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS,
                            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS)),
                    lib.find("cuLaunchKernelEx").map(f -> l.downcallHandle(f,
                            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS))).orElse(null),
                    l.downcallHandle(lib.find("cuFuncSetAttribute").orElseThrow(),
                            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT)));
        }
    }

    private final NativeCudaStream stream;
    private final Driver cu;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment args;
    private final MemorySegment params;
    private final MemorySegment streamHandle;
    // programmatic dependent launch (cuLaunchKernelEx, Hopper and later): each kernel may be scheduled while the
    // one before it on the stream finishes, and waits on the device (pdl_wait in common.cuh, the first thing
    // every kernel of these modules does) for its completion. Hides the launch gap between the small decode
    // kernels. One configuration, rewritten per launch.
    private final ProgrammaticLaunch launchConfig;
    private final boolean pdlSupported;
    private boolean pdl;
    final MemorySegment rotary, siluMul, siluMulPacked, add, attention, copyRowsAt, rotaryKvWrite, attentionSplit,
            attentionCombine, attentionOnline, rotaryAttention, attentionDecode64, attentionDecode128,
            rotaryAttentionDecode64, rotaryAttentionDecode128, argmax;
    private final MemorySegment[] rmsNorm = new MemorySegment[DType.values().length];
    private final MemorySegment[] addRmsNorm = new MemorySegment[DType.values().length];
    private final MemorySegment[] embed = new MemorySegment[DType.values().length];
    private final MemorySegment[] cast = new MemorySegment[DType.values().length];
    private final MemorySegment[][] gemv = new MemorySegment[DType.values().length][];
    private final MemorySegment[][][] gemvFused = new MemorySegment[Gemv.Fused.values().length][DType.values().length][];
    // the tensor-core skinny GEMM (gemv.cu, cohort_tcgemv_*): [weight type][token tile][variant] (TcGemv)
    private final MemorySegment[][][] tcGemv = new MemorySegment[DType.values().length][][];
    // the tensor-core prefill attention per head_dim (index in TC_HEAD_DIMS); null where the device refused its
    // dynamic shared memory
    private final MemorySegment[] attentionTc = new MemorySegment[TC_HEAD_DIMS.length];
    // the row-parallel GEMV with the fused all-reduce + add + RMSNorm epilogue (cohort_gemv_arnorm_*): [weight
    // type][tile below ARNORM_TILES]; null where the module has none (an older prebuilt fatbin)
    private final MemorySegment[][] gemvArNorm = new MemorySegment[DType.values().length][];
    // the bench's shape variants of the bf16 GEMV (Gemv.VARIANTS); null where the module has none
    private final MemorySegment[] gemvVariant = new MemorySegment[Gemv.VARIANTS.length];
    // its argument block: NnArgs, then the all-reduce's (AllReduceEpilogue#bind writes them into arTail)
    private final MemorySegment arArgs;
    private final MemorySegment arParams;
    private final MemorySegment arTail;

    /** Tiles of {@link Gemv#TILES} (the first) with the fused all-reduce epilogue (gemv.cu: 1 and 2 rows). */
    static final int ARNORM_TILES = 2;
    /** Room for the all-reduce's arguments after NnArgs in that block. */
    static final long ARNORM_TAIL_BYTES = 1024;

    /** Launches without programmatic dependent launch until {@link #pdl(boolean)} turns it on. */
    NnKernels(NativeCudaStream stream) {
        Driver d = driver;
        if (d == null) {
            synchronized (NnKernels.class) {
                d = driver;
                if (d == null) {
                    d = driver = Driver.bind();
                }
            }
        }
        this.cu = d;
        this.stream = stream;
        this.streamHandle = MemorySegment.ofAddress(stream.nativeHandle());
        this.args = arena.allocate(SIZE, 16);
        this.params = arena.allocate(ADDRESS);
        params.set(ADDRESS, 0, args);
        this.arArgs = arena.allocate(SIZE + ARNORM_TAIL_BYTES, 16);
        this.arParams = arena.allocate(ADDRESS);
        arParams.set(ADDRESS, 0, arArgs);
        this.arTail = arArgs.asSlice(SIZE, ARNORM_TAIL_BYTES);
        this.pdlSupported = d.launchKernelEx() != null;

        this.launchConfig = new ProgrammaticLaunch(arena);
        stream.makeContextCurrent();
        MemorySegment module = load(RESOURCE);
        rotary = function(module, "cohort_nn_rotary");
        siluMul = function(module, "cohort_nn_silu_mul");
        siluMulPacked = function(module, "cohort_nn_silu_mul_packed");
        add = function(module, "cohort_nn_add");
        attention = function(module, "cohort_nn_attention");
        copyRowsAt = function(module, "cohort_nn_copy_rows_at");
        rotaryKvWrite = function(module, "cohort_nn_rotary_kv_write");
        attentionSplit = function(module, "cohort_nn_attention_split");
        attentionCombine = function(module, "cohort_nn_attention_combine");
        attentionOnline = function(module, "cohort_nn_attention_online");
        rotaryAttention = function(module, "cohort_nn_rotary_attention");
        attentionDecode64 = function(module, "cohort_nn_attention_decode_d64");
        attentionDecode128 = function(module, "cohort_nn_attention_decode_d128");
        rotaryAttentionDecode64 = function(module, "cohort_nn_rotary_attention_decode_d64");
        argmax = function(module, "cohort_nn_argmax");
        rotaryAttentionDecode128 = function(module, "cohort_nn_rotary_attention_decode_d128");
        for (int i = 0; i < TC_HEAD_DIMS.length; i++) {
            MemorySegment f = function(module, tcName(TC_HEAD_DIMS[i]));
            int bytes = tcSharedBytes(TC_HEAD_DIMS[i]);
            int r = call(() -> (int) cu.funcSetAttribute.invokeExact(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    bytes));
            attentionTc[i] = r == 0 ? f : null;
        }
        for (DType t : DType.values()) {
            String s = t.name().toLowerCase(java.util.Locale.ROOT);
            rmsNorm[t.ordinal()] = function(module, "cohort_nn_rmsnorm_" + s);
            addRmsNorm[t.ordinal()] = function(module, "cohort_nn_add_rmsnorm_" + s);
            embed[t.ordinal()] = function(module, "cohort_nn_embed_" + s);
            cast[t.ordinal()] = t == DType.F32 ? null : function(module, "cohort_nn_cast_" + s);
        }
        MemorySegment gemvModule = load(GEMV_RESOURCE);
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            MemorySegment[] tiles = gemv[t.ordinal()] = new MemorySegment[Gemv.TILES.length];
            for (int i = 0; i < tiles.length; i++) {
                tiles[i] = function(gemvModule, gemvName(t, Gemv.TILES[i]));
            }
            MemorySegment[][] tc = tcGemv[t.ordinal()] = new MemorySegment[TcGemv.TILES.length][TcGemv.VARIANTS.length];
            for (int i = 0; i < tc.length; i++) {
                for (int v = 0; v < tc[i].length; v++) {
                    tc[i][v] = function(gemvModule, TcGemv.name(t, i, v));
                }
            }
            for (Gemv.Fused f : Gemv.Fused.values()) {
                MemorySegment[] fused = gemvFused[f.ordinal()][t.ordinal()] = new MemorySegment[Gemv.FUSED_TILES];
                for (int i = 0; i < fused.length; i++) {
                    fused[i] = function(gemvModule, gemvFusedName(f, t, Gemv.TILES[i]));
                }
            }
            if (t == DType.BF16) {
                for (int v = 0; v < Gemv.VARIANTS.length; v++) {
                    gemvVariant[v] = functionOrNull(gemvModule, Gemv.VARIANTS[v].kernel());
                }
            }
            MemorySegment[] ar = gemvArNorm[t.ordinal()] = new MemorySegment[ARNORM_TILES];
            for (int i = 0; i < ar.length; i++) {
                ar[i] = functionOrNull(gemvModule, gemvArNormName(t, Gemv.TILES[i]));
            }
        }
    }

    static String gemvArNormName(DType weight, int rows) {
        return "cohort_gemv_arnorm_" + weight.name().toLowerCase(java.util.Locale.ROOT) + "_m" + rows;
    }

    /** Shape variant {@code v} of the bf16 GEMV ({@link Gemv#VARIANTS}), or null (none in the module). */
    MemorySegment gemvVariant(int v) {
        return gemvVariant[v];
    }

    /** The GEMV with the fused all-reduce epilogue for {@code weight} and tile, or null (none in the module). */
    MemorySegment gemvArNorm(DType weight, int tile) {
        MemorySegment[] tiles = gemvArNorm[weight.ordinal()];
        return tiles == null || tile >= tiles.length ? null : tiles[tile];
    }

    static String gemvFusedName(Gemv.Fused form, DType weight, int rows) {
        return "cohort_gemv_" + form.kernel + "_" + weight.name().toLowerCase(java.util.Locale.ROOT) + "_m" + rows;
    }

    /** The fused GEMV kernel of {@code form} for {@code weight} and tile index (below {@link Gemv#FUSED_TILES}). */
    MemorySegment gemvFused(Gemv.Fused form, DType weight, int tile) {
        return gemvFused[form.ordinal()][weight.ordinal()][tile];
    }

    static String gemvName(DType weight, int rows) {
        return "cohort_gemv_" + weight.name().toLowerCase(java.util.Locale.ROOT) + "_m" + rows;
    }

    /** The GEMV kernel for {@code weight} (BF16 or F16) and tile index (see {@link Gemv#tile}). */
    MemorySegment gemv(DType weight, int tile) {
        return gemv[weight.ordinal()][tile];
    }

    /** The tensor-core skinny GEMM for {@code weight} (BF16 or F16), token tile ({@link TcGemv#tile}) and variant. */
    MemorySegment tcGemv(DType weight, int tile, int variant) {
        return tcGemv[weight.ordinal()][tile][variant];
    }

    /**
     * The tensor-core prefill attention for {@code headDim}, or null: no kernel for that head_dim, or the device
     * does not grant its {@link #tcSharedBytes} of shared memory.
     */
    MemorySegment attentionTc(int headDim) {
        for (int i = 0; i < TC_HEAD_DIMS.length; i++) {
            if (TC_HEAD_DIMS[i] == headDim) {
                return attentionTc[i];
            }
        }
        return null;
    }

    MemorySegment rmsNorm(DType weight) {
        return rmsNorm[weight.ordinal()];
    }

    MemorySegment addRmsNorm(DType weight) {
        return addRmsNorm[weight.ordinal()];
    }

    MemorySegment embed(DType table) {
        return embed[table.ordinal()];
    }

    MemorySegment cast(DType to) {
        return cast[to.ordinal()];
    }

    private MemorySegment load(String resource) {
        MemorySegment out = arena.allocate(ADDRESS);
        int r = call(() -> (int) cu.moduleLoadData.invokeExact(out,
                arena.allocateFrom(ValueLayout.JAVA_BYTE, resource(resource, ".fatbin", false))));
        if (r == CUDA_ERROR_NO_BINARY_FOR_GPU || r == CUDA_ERROR_INVALID_IMAGE) {
            r = call(() -> (int) cu.moduleLoadData.invokeExact(out,
                    arena.allocateFrom(ValueLayout.JAVA_BYTE, resource(resource, ".ptx", true))));
        }
        check(r, "cuModuleLoadData(" + resource.substring(resource.lastIndexOf('/') + 1) + ")");
        return out.get(ADDRESS, 0);
    }

    /** The function, or null where the module has none of that name (CUDA_ERROR_NOT_FOUND). */
    private MemorySegment functionOrNull(MemorySegment module, String name) {
        MemorySegment out = arena.allocate(ADDRESS);
        int r = call(() -> (int) cu.moduleGetFunction.invokeExact(out, module, arena.allocateFrom(name)));
        if (r == CUDA_ERROR_NOT_FOUND) {
            return null;
        }
        check(r, "cuModuleGetFunction(" + name + ")");
        return out.get(ADDRESS, 0);
    }

    private MemorySegment function(MemorySegment module, String name) {
        MemorySegment out = arena.allocate(ADDRESS);
        check(call(() -> (int) cu.moduleGetFunction.invokeExact(out, module, arena.allocateFrom(name))),
                "cuModuleGetFunction(" + name + ")");
        return out.get(ADDRESS, 0);
    }

    private static byte[] resource(String name, String suffix, boolean nulTerminated) {
        try (InputStream in = NnKernels.class.getResourceAsStream(name + suffix)) {
            if (in == null) {
                throw new CohortException("kernel resource " + name + suffix
                        + " missing from the class path (cuda/build-kernels.sh builds it)");
            }
            byte[] data = in.readAllBytes();
            if (!nulTerminated) {
                return data;
            }
            byte[] z = java.util.Arrays.copyOf(data, data.length + 1);
            return z;
        } catch (IOException e) {
            throw new CohortException("cannot read kernel resource " + name + suffix, e);
        }
    }

    /** Turns programmatic dependent launch on or off for the next launches (on only where the driver has it). */
    void pdl(boolean on) {
        this.pdl = on && pdlSupported;
    }

    /** Sets the struct's fields; unused ones are zero. Then {@link #launch}. */
    NnKernels pointers(long a, long b, long c, long out, long scratch) {
        args.set(JAVA_LONG, A, a);
        args.set(JAVA_LONG, B, b);
        args.set(JAVA_LONG, C, c);
        args.set(JAVA_LONG, OUT, out);
        args.set(JAVA_LONG, SCRATCH, scratch);
        return this;
    }

    NnKernels sizes(long n, int rows, int cols) {
        args.set(JAVA_LONG, N, n);
        args.set(JAVA_INT, ROWS, rows);
        args.set(JAVA_INT, COLS, cols);
        return this;
    }

    NnKernels heads(int heads, int kvHeads, int headDim, int startPos, int maxSeq) {
        args.set(JAVA_INT, HEADS, heads);
        args.set(JAVA_INT, KV_HEADS, kvHeads);
        args.set(JAVA_INT, HEAD_DIM, headDim);
        args.set(JAVA_INT, START_POS, startPos);
        args.set(JAVA_INT, MAX_SEQ, maxSeq);
        return this;
    }

    NnKernels vocab(int vocabStart, int tableRows) {
        args.set(JAVA_INT, VOCAB_START, vocabStart);
        args.set(JAVA_INT, TABLE_ROWS, tableRows);
        return this;
    }

    /** The step block's position word (graph replays), or 0 for the start position in the arguments. */
    NnKernels pos(long address) {
        args.set(JAVA_LONG, POS, address);
        return this;
    }

    /** The extra outputs (the fused rotary + KV write's K and V caches). */
    NnKernels extra(long d, long e) {
        args.set(JAVA_LONG, D, d);
        args.set(JAVA_LONG, E, e);
        return this;
    }

    /** The fused rotary attention's table (f) and tickets (g). */
    NnKernels more(long f, long g) {
        args.set(JAVA_LONG, F, f);
        args.set(JAVA_LONG, G, g);
        return this;
    }

    /**
     * The fused GEMV's norm epilogue (gemv.cu; NnArgs): the norm weight's type in NnArgs.heads (its
     * {@link DType} ordinal: 0 f32, 1 f16, 2 bf16), eps in NnArgs.eps, the normed output in NnArgs.d. The
     * pointers: c = norm weight, out = residual (in place), scratch = the ticket counter.
     */
    NnKernels gemvNorm(DType weight, float eps, long normed) {
        args.set(JAVA_INT, HEADS, weight.ordinal());
        args.set(JAVA_FLOAT, EPS, eps);
        args.set(JAVA_LONG, D, normed);
        return this;
    }

    NnKernels eps(float eps) {
        args.set(JAVA_FLOAT, EPS, eps);
        return this;
    }

    /** Grid for a grid-stride loop over {@code n} elements. */
    static int gridFor(long n) {
        return (int) Math.max(1, Math.min(MAX_GRID, (n + THREADS - 1) / THREADS));
    }

    /** Times every launch while set (profiling only: {@link CudaTensorOps#timeline}). */
    KernelTimeline timeline;

    void launch(MemorySegment function, int grid, int block, String what) {
        launch(function, grid, block, 0, what);
    }

    /**
     * A launch of the GEMV with the fused all-reduce epilogue: the arguments set so far (NnArgs), then the
     * all-reduce's, which {@code allReduce} binds (taking its collective number) just before the launch.
     */
    void launchWithAllReduce(MemorySegment function, int grid, int block, String what, AllReduceEpilogue allReduce,
                             boolean graph, Matrix residual, RmsNorm norm, Matrix normed) {
        if (allReduce.argumentBytes() > ARNORM_TAIL_BYTES) {
            throw new IllegalStateException("the fused all-reduce needs " + allReduce.argumentBytes()
                    + " bytes of arguments, more than the " + ARNORM_TAIL_BYTES + " reserved");
        }
        MemorySegment.copy(args, 0, arArgs, 0, SIZE);
        allReduce.bind(arTail, graph, residual, norm, normed);
        launch(function, grid, block, 0, what, arParams);
    }

    /** A launch with {@code sharedBytes} of dynamic shared memory (beyond 48 KB the function's limit must allow it). */
    void launch(MemorySegment function, int grid, int block, int sharedBytes, String what) {
        launch(function, grid, block, sharedBytes, what, params);
    }

    private void launch(MemorySegment function, int grid, int block, int sharedBytes, String what,
                        MemorySegment params) {
        stream.makeContextCurrent();
        boolean timed = timeline != null && timeline.begin();
        int r;
        if (pdl) {
            MemorySegment config = launchConfig.of(grid, block, sharedBytes, stream.nativeHandle());
            r = call(() -> (int) cu.launchKernelEx.invokeExact(config, function, params, MemorySegment.NULL));
        } else {
            r = call(() -> (int) cu.launchKernel.invokeExact(function, grid, 1, 1, block, 1, 1, sharedBytes, streamHandle, params,
                    MemorySegment.NULL));
        }
        check(r, "launch of " + what + " (" + grid + " x " + block + ")");
        if (timed) {
            timeline.end(what);
        }
        args.fill((byte) 0);
    }

    private void check(int status, String what) {
        if (status != 0) {
            throw new CohortException("cuda:" + stream.deviceOrdinal() + ": " + what + " failed with CUresult " + status);
        }
    }

    @FunctionalInterface
    private interface NativeCall {
        int call() throws Throwable;
    }

    private static int call(NativeCall c) {
        try {
            return c.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new CohortException("CUDA driver call failed: " + t, t);
        }
    }
}
