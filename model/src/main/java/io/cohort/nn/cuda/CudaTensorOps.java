package io.cohort.nn.cuda;

import static io.cohort.nn.cuda.Operands.f32;

import io.cohort.core.DType;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.CudaStream;
import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import io.cohort.nn.AllReduceEpilogue;
import io.cohort.nn.ArgMax;
import io.cohort.nn.Matrix;
import io.cohort.nn.RmsNorm;
import io.cohort.nn.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@link TensorOps} on one GPU: GEMMs through cuBLAS ({@link CublasGemm}), everything else through
 * {@link NnKernels}, all enqueued on one stream of its own. Activations are f32. A decode GEMM with f16 or bf16
 * weights takes the GEMV kernels where they beat cuBLAS ({@link Gemv#faster}: one row always, 2-4 rows on small
 * weights; f32 activations times widened weights accumulated in f32, no cast); system property
 * {@code cohort.nn.gemv=false} sends every GEMM to cuBLAS. Other GEMMs whose weight is f16 or bf16 first cast
 * the f32 activation to the weight's type (cuBLAS needs one input type) and write f32: the product of
 * bf16-rounded inputs accumulated in f32, as bf16 inference on GPUs does, so results differ from the host's
 * (which keeps activations f32) by about the input type's roundoff.
 *
 * <p>Where a decode GEMM takes the GEMV, the fused ops take its fused forms (one launch instead of two:
 * {@link #siluMatmulT}, {@link #matmulTAddRmsNorm}, {@link #siluMatmulTAddRmsNorm}; see gemv.cu), bit-identical
 * to the unfused ops; shapes without a fused tile ({@link Gemv#fuses}) run the unfused ops. The attention
 * kernels and their choice are {@link CudaAttention}'s, on the same stream.
 */
public final class CudaTensorOps implements TensorOps {
    private final CudaDevice device;
    private final CudaStream stream;
    private final CublasGemm gemm;
    private final NnKernels kernels;
    private final Arena arena = Arena.ofShared();
    private final CudaAttention attention;
    private final DeviceScratch castScratch;
    private final DeviceScratch tokenBuffer;
    // the fused GEMV's ticket counter (an unsigned int the last block resets): zeroed once, at construction
    private final DeviceBuffer gemvTicket;
    // argmax: the kernel's 8-byte answer on the device and its pinned copy on the host
    private final DeviceBuffer argmaxOut;
    private final CudaBuffer argmaxHost;
    private MemorySegment tokenStaging = MemorySegment.NULL;
    // reused: a wait uses the record current when it is enqueued (CUDA event semantics)
    private final CudaEvent computeDone;
    private final CudaEvent otherDone;
    // step block (pinned host memory the kernels read): int position at 0, int tokens[] from TOKENS_AT
    private static final long TOKENS_AT = 64;
    private static final int STEP_TOKENS = 256;
    private final CudaBuffer step;
    // the step block's device copy, which the kernels read: one copy node at the head of a captured step (see
    // stepBlock), where every kernel reading pinned host memory directly paid a PCIe round trip per block
    private final DeviceBuffer stepDevice;
    private CudaBuffer downloadStaging;
    private boolean stepInputs;
    // whether this step (since stepInputs(true)) has enqueued the copy of the step block: its first op does
    private boolean stepLoaded;
    private static final long GEMM_WORKSPACE = 32L << 20;
    private DeviceBuffer gemmWorkspace;
    private CublasLtGemm cublasLt;
    private DeviceBuffer cublasLtWorkspace;
    // cohort.nn.gemv: "false" = every GEMM on cuBLAS; "always" = GEMV for every shape it supports; else (default)
    // GEMV where it measured faster (Gemv.faster)
    private boolean gemvOn = !"false".equals(System.getProperty("cohort.nn.gemv"));
    private boolean gemvEverywhere = "always".equals(System.getProperty("cohort.nn.gemv"));
    // cohort.nn.tcGemv: matmulT of 3..16 rows on the tensor-core skinny GEMM (TcGemv, gemv.cu cohort_tcgemv_*)
    // where it measured fastest (TcGemv.takes); "false" turns it off. Needs the GEMV on (cohort.nn.gemv).
    private boolean tcGemvOn = !"false".equals(System.getProperty("cohort.nn.tcGemv"));
    // cohort.nn.fusedGemv: "true" = the GEMVs with the SwiGLU prologue and the add + RMSNorm epilogue. Opt-in:
    // on an H200 they were slower than the separate kernels (8x1024 o_proj + add-norm 13.4 vs 5.7 us, 8B down
    // with SwiGLU 70.6 vs 34.1 us: every block recomputes the activation, and the last block's norm is serial)
    private boolean fusedGemvOn = "true".equals(System.getProperty("cohort.nn.fusedGemv"));
    // cohort.nn.normInGemv: the residual stream's norms in the prologue of the GEMV after them and its adds in the
    // epilogue of the GEMV before them, and the SwiGLU in gate|up's epilogue (with the one-launch decode attention,
    // the decode layer at tp = 1 is 5 launches instead of 10). On unless "false".
    private boolean normInGemvOn = !"false".equals(System.getProperty("cohort.nn.normInGemv"));
    // cohort.nn.gemm-choices: a file of measured kernel choices per product (GemmChoices; GemvSweepBench writes
    // one), taken by matmulT before its rules; null (the default): the rules alone
    private final GemmChoices choices = GemmChoices.fromSystemProperty();

    public CudaTensorOps(CudaDevice device) {
        this.device = device;
        this.stream = device.createStream();
        this.gemm = new CublasGemm(stream);
        this.kernels = new NnKernels(stream);
        this.attention = new CudaAttention(device, stream, kernels, this::stepPosition);
        this.castScratch = new DeviceScratch(device, stream, false);
        this.tokenBuffer = new DeviceScratch(device, stream, false);
        kernels.pdl(device.computeCapability() >= 90 && !"false".equals(PDL));
        this.computeDone = device.createEvent();
        this.otherDone = device.createEvent();
        this.step = device.allocatePinnedHost(TOKENS_AT + 4L * STEP_TOKENS);
        this.stepDevice = device.allocate(TOKENS_AT + 4L * STEP_TOKENS);
        this.gemvTicket = device.allocate(256);
        this.argmaxOut = device.allocate(256);
        this.argmaxHost = device.allocatePinnedHost(64);
        stream.zero(gemvTicket, 0, 256);   // ordered before every kernel of this stream
    }

    // cohort.nn.pdl: programmatic dependent launch (Hopper and later). "auto" (default) and "true": on where the
    // device has it (graph decode at 8x1024 on an H200: 0.313 ms with it, 0.336 without, 2026-12-02); "false":
    // never. Ranks sharing a GPU (cuda:0*N) take it too: the P2P all-reduce kernels, which spin on each other,
    // never let the next kernel in early (allreduce.cu; their own attribute is cohort.cuda.p2p.programmatic-launch,
    // off by default), so no kernel waiting on the device holds the SMs an all-reduce's peer needs (tp 2 on one H200, TinyLlama, graphs: 1.485 vs 1.610 ms, 2026-12-02; the shared-GPU tests at tp 2 and
    // 4 pass with it). An earlier tp 4 hang with it was with the opt-in fused kernels on.
    private static final String PDL = System.getProperty("cohort.nn.pdl", "auto");
    /**
     * Readies these ops for capture: cuBLAS gets a workspace of its own (32 MiB), since a capture must not
     * allocate. Idempotent; call before capturing.
     */
    public void prepareGraphs() {
        if (gemmWorkspace == null) {
            gemmWorkspace = device.allocate(GEMM_WORKSPACE);
            gemm.useWorkspace(gemmWorkspace.address(), GEMM_WORKSPACE);
        }
    }

    /**
     * Step inputs for CUDA graphs: while on, the position-dependent ops (rotary, KV write, attention) read the
     * position, and {@link #embed} the tokens, from the step block that {@link #setStep} fills, not from their
     * arguments; and nothing synchronizes. A step captured this way replays at any position: the host calls
     * setStep before each launch (after the previous replay's logits were copied, so the block is free).
     */
    public void stepInputs(boolean on) {
        this.stepInputs = on;
        this.stepLoaded = false;
    }

    /** Writes the next replay's position and tokens into the step block (host memory; no device work). */
    public void setStep(int position, int[] tokens) {
        if (tokens.length > STEP_TOKENS) {
            throw new IllegalArgumentException("a graph step takes at most " + STEP_TOKENS + " tokens, got " + tokens.length);
        }
        MemorySegment s = step.segment();
        s.set(ValueLayout.JAVA_INT, 0, position);
        MemorySegment.copy(tokens, 0, s, ValueLayout.JAVA_INT, TOKENS_AT, tokens.length);
    }

    /**
     * The device copy of the step block, for an op of a step (stepInputs on): the step's first such op enqueues
     * the copy of what {@link #setStep} wrote, so a captured step starts with it and each replay copies the block
     * once. Ops reading pinned host memory directly paid a PCIe round trip per block.
     */
    private long stepBlock() {
        if (!stepLoaded) {
            stream.copy(step, 0, stepDevice, 0, step.byteSize());
            stepLoaded = true;
        }
        return stepDevice.address();
    }

    private long stepPosition() {
        return stepInputs ? stepBlock() : 0;
    }

    /** The stream every op of these ops runs on (to capture or order around). */
    public CudaStream stream() {
        return stream;
    }

    @Override
    public void orderBefore(DeviceStream other) {
        if (other == stream) {
            return;
        }
        stream.record(computeDone);
        other.waitFor(computeDone);
    }

    @Override
    public void orderAfter(DeviceStream other) {
        if (other == stream) {
            return;
        }
        other.record(otherDone);
        stream.waitFor(otherDone);
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public Matrix allocate(DType dtype, int rows, int cols) {
        return new Matrix(device.allocate(Math.max(Matrix.byteSize(dtype, rows, cols), 1)), dtype, rows, cols);
    }

    @Override
    public void free(Matrix matrix) {
        device.free(matrix.buffer());
    }

    @Override
    public void upload(MemorySegment src, DeviceBuffer dst, long dstOffset) {
        stream.copyFromHost(src, dst, dstOffset);
        stream.synchronize();
    }

    @Override
    public void download(DeviceBuffer src, long srcOffset, MemorySegment dst) {
        if (dst.isNative()) {
            stream.copyToHost(src, srcOffset, dst);
            stream.synchronize();
            return;
        }
        // a heap array (the logits of every decode step): through pinned staging, reused, so the copy runs at
        // the link's speed and nothing is allocated per call (pageable copies stage through the driver)
        long bytes = dst.byteSize();
        if (downloadStaging == null || downloadStaging.byteSize() < bytes) {
            if (downloadStaging != null) {
                device.free(downloadStaging);
            }
            downloadStaging = device.allocatePinnedHost(Math.max(bytes, 64 << 10));
        }
        stream.copy(src, srcOffset, downloadStaging, 0, bytes);
        stream.synchronize();
        MemorySegment.copy(downloadStaging.segment(), 0, dst, 0, bytes);
    }

    /**
     * One block scans the row on the device (cohort_nn_argmax) and 8 bytes come back: greedy decoding without the
     * logits' download (0.5 MB a token at a 128k vocabulary) or a host scan of them.
     */
    @Override
    public long argmax(Matrix row) {
        f32(row, "argmax input");
        if (row.elements() == 0 || row.elements() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("argmax of " + row + ": 1 .. 2^31 - 1 elements");
        }
        kernels.pointers(row.buffer().address(), 0, 0, argmaxOut.address(), 0).sizes(0, 1, (int) row.elements())
                .launch(kernels.argmax, 1, NnKernels.ARGMAX_THREADS, "argmax");
        stream.copy(argmaxOut, 0, argmaxHost, 0, 8);
        stream.synchronize();
        MemorySegment s = argmaxHost.segment();
        return ArgMax.pack(s.get(ValueLayout.JAVA_FLOAT, 0), s.get(ValueLayout.JAVA_INT, 4));
    }

    /** Whether decode GEMMs take the GEMV kernels (default: system property cohort.nn.gemv, true unless "false"). */
    public void useGemv(boolean on) {
        this.gemvOn = on;
    }

    /**
     * Whether {@link #rmsNormMatmulT}, {@link #matmulTAdd}, {@link #matmulTSwiGlu} and {@link #rmsNormMatmulTSwiGlu}
     * take the fused GEMVs where the GEMV takes the product (default: on, unless system property
     * cohort.nn.normInGemv is "false").
     */
    public void useNormInGemv(boolean on) {
        this.normInGemvOn = on;
    }

    /** Whether the fused GEMV forms are used where they apply (default: system property cohort.nn.fusedGemv). */
    public void useFusedGemv(boolean on) {
        this.fusedGemvOn = on;
    }

    /**
     * Whether matmulT of 3..16 rows takes the tensor-core skinny GEMM where it measured fastest (default: system
     * property cohort.nn.tcGemv, true unless "false"); only while the GEMV is on ({@link #useGemv}).
     */
    public void useTcGemv(boolean on) {
        this.tcGemvOn = on;
    }

    /** How many variants (block shapes) of the tensor-core skinny GEMM there are (benchmarks: {@link #matmulTTc}). */
    public static int tcGemvVariants() {
        return TcGemv.VARIANTS.length;
    }

    /** A variant's block shape in words (rows per warp, warps, k-split, chunks in flight per lane). */
    public static String tcGemvVariant(int variant) {
        return TcGemv.VARIANTS[variant].toString();
    }

    /** Whether the tensor-core skinny GEMM can compute a · wᵀ into out (types, 1..16 rows, k % 8, alignment). */
    public static boolean tcGemvSupports(Matrix a, Matrix w, Matrix out) {
        return TcGemv.supports(a.dtype(), w.dtype(), out.dtype(), a.rows(), a.cols(), a.buffer().address(),
                w.buffer().address());
    }

    /**
     * out = a · wᵀ on the given variant of the tensor-core skinny GEMM (benchmarks and tests; matmulT picks
     * {@link TcGemv#defaultVariant} itself). Throws where {@link #tcGemvSupports} is false.
     */
    public void matmulTTc(Matrix a, Matrix w, Matrix out, int variant) {
        if (!tcGemvSupports(a, w, out)) {
            throw new IllegalArgumentException("tensor-core GEMV does not take a " + a + ", w " + w + ", out " + out);
        }
        tcGemv(a, w, out, variant);
    }

    /** Shape variants of the bf16 GEMV for 1 and 2 rows (benchmarks: {@link #matmulTGemvVariant}). */
    public static int gemvVariants() {
        return Gemv.VARIANTS.length;
    }

    /** Variant {@code v}'s rows and block shape in words. */
    public static String gemvVariant(int v) {
        return Gemv.VARIANTS[v].toString();
    }

    /** Whether GEMV variant {@code v} computes a · wᵀ into out: its rows exactly, bf16 weights, the GEMV's rules. */
    public boolean gemvVariantSupports(int v, Matrix a, Matrix w, Matrix out) {
        return kernels.gemvVariant(v) != null && a.rows() == Gemv.VARIANTS[v].rows() && w.dtype() == DType.BF16
                && a.cols() == w.cols() && out.rows() == a.rows() && out.cols() == w.rows()
                && Gemv.supports(a.dtype(), w.dtype(), out.dtype(), a.rows(), a.cols(), a.buffer().address(),
                        w.buffer().address());
    }

    /**
     * out = a · wᵀ on shape variant {@code v} of the GEMV (benchmarks; matmulT launches the tile's own shape).
     * Throws where {@link #gemvVariantSupports} is false.
     */
    public void matmulTGemvVariant(Matrix a, Matrix w, Matrix out, int v) {
        if (!gemvVariantSupports(v, a, w, out)) {
            throw new IllegalArgumentException("GEMV variant " + v + " (" + gemvVariant(v) + ") does not take a " + a
                    + ", w " + w + ", out " + out);
        }
        Gemv.Variant shape = Gemv.VARIANTS[v];
        int n = w.rows(), k = w.cols();
        kernels.pointers(a.buffer().address(), w.buffer().address(), 0, out.buffer().address(), 0).sizes(n, a.rows(), k);
        kernels.launch(kernels.gemvVariant(v), Gemv.blocksFor(shape.cols(), n), Gemv.threadsFor(shape.unroll(), k),
                "gemv variant " + v);
    }

    private boolean tcGemvTakes(Matrix a, Matrix w, Matrix out) {
        // (not while the GEMV is asked to take every shape it supports: tests of its tiles)
        return gemvOn && tcGemvOn && !gemvEverywhere && TcGemv.takes(a.rows(), w.cols(), w.byteSize())
                && tcGemvSupports(a, w, out);
    }

    /** One launch of cohort_tcgemv_&lt;type&gt;_m&lt;8|16&gt;_v&lt;variant&gt; (supported shapes only). */
    private void tcGemv(Matrix a, Matrix w, Matrix out, int variant) {
        int m = a.rows(), k = w.cols(), n = w.rows();
        if (a.cols() != k || out.rows() != m || out.cols() != n) {
            throw new IllegalArgumentException("matmulT shapes: a " + a + ", w " + w + ", out " + out);
        }
        if (n == 0) {
            return;
        }
        kernels.pointers(a.buffer().address(), w.buffer().address(), 0, out.buffer().address(), 0).sizes(n, m, k);
        kernels.launch(kernels.tcGemv(w.dtype(), TcGemv.tile(m), variant), TcGemv.blocks(variant, n),
                TcGemv.threads(variant), kernels.timeline == null ? "tcgemv" : "tcgemv v" + variant + " " + shape(m, n, k));
    }

    /** GEMV for every shape it supports, not only where it measured faster (tests; cohort.nn.gemv=always). */
    void gemvEverywhere(boolean on) {
        this.gemvEverywhere = on;
    }

    /**
     * Whether the product of {@code m = a.rows()} rows of width {@code k} by w into an {@code outType} output takes
     * the GEMV kernels: on, supported ({@link Gemv#supports}, a's address checked) and faster than cuBLAS (or
     * {@link #gemvEverywhere}).
     */
    private boolean gemvTakes(Matrix a, int k, Matrix w, DType outType) {
        return gemvOn && Gemv.supports(a.dtype(), w.dtype(), outType, a.rows(), k, a.buffer().address(),
                w.buffer().address()) && (gemvEverywhere || Gemv.faster(a.rows(), w.byteSize()));
    }

    @Override
    public void matmulT(Matrix a, Matrix w, Matrix out) {
        if (choices != null && chosen(a, w, out)) {
            return;
        }
        if (tcGemvTakes(a, w, out)) {
            tcGemv(a, w, out, TcGemv.defaultVariant(a.rows(), w.rows(), w.cols()));
            return;
        }
        if (gemvTakes(a, a.cols(), w, out.dtype())) {
            gemv(null, a, w, out, null, 0, null);
            return;
        }
        cublas(inWeightType(a, w), w, out);
    }

    /**
     * Runs the kernel the measured choices ({@link GemmChoices}, cohort.nn.gemm-choices) name for this product,
     * where there is one and it takes these operands; false otherwise (the rules decide).
     */
    private boolean chosen(Matrix a, Matrix w, Matrix out) {
        int c = choices.find(w.rows(), w.cols(), a.rows());
        if (c < 0 || !gemvOn || a.cols() != w.cols() || out.rows() != a.rows() || out.cols() != w.rows()) {
            return false;
        }
        int i = choices.index(c);
        switch (choices.kind(c)) {
            case CUBLAS -> cublas(inWeightType(a, w), w, out);
            case GEMV -> {
                if (!Gemv.supports(a.dtype(), w.dtype(), out.dtype(), a.rows(), a.cols(), a.buffer().address(),
                        w.buffer().address())) {
                    return false;
                }
                gemv(null, a, w, out, null, 0, null);
            }
            case GEMV_VARIANT -> {
                if (i >= Gemv.VARIANTS.length || !gemvVariantSupports(i, a, w, out)) {
                    return false;
                }
                matmulTGemvVariant(a, w, out, i);
            }
            case TC -> {
                if (i >= TcGemv.VARIANTS.length || !tcGemvSupports(a, w, out)) {
                    return false;
                }
                tcGemv(a, w, out, i);
            }
            case LT -> {
                if (a.dtype() != DType.F32 && a.dtype() != w.dtype() || i >= cublasLtAlgorithms(a, w, out)) {
                    return false;
                }
                matmulTCublasLt(a, w, out, i);
            }
        }
        return true;
    }

    /**
     * a in w's type, as cuBLAS needs one input type: a itself, or (a f32) its cast into scratch, which rounds the
     * activations to w's type as bf16 inference on GPUs does.
     */
    private Matrix inWeightType(Matrix a, Matrix w) {
        if (a.dtype() == w.dtype()) {
            return a;
        }
        f32(a, "matmulT input");
        DeviceBuffer scratch = castScratch.atLeast(a.elements() * w.dtype().bytes());
        kernels.pointers(a.buffer().address(), 0, 0, scratch.address(), 0).sizes(a.elements(), 0, 0)
                .launch(kernels.cast(w.dtype()), NnKernels.gridFor(a.elements()), NnKernels.THREADS, "cast to " + w.dtype());
        return new Matrix(scratch, w.dtype(), a.rows(), a.cols());
    }

    /**
     * cuBLASLt on these ops' stream, made at first use with a workspace of its own ({@value #GEMM_WORKSPACE}
     * bytes, so its calls can be captured): benchmarks compare its heuristic's algorithms with cuBLAS's choice.
     */
    private CublasLtGemm cublasLt() {
        if (cublasLt == null) {
            cublasLtWorkspace = device.allocate(GEMM_WORKSPACE);
            cublasLt = new CublasLtGemm(stream, cublasLtWorkspace.address(), GEMM_WORKSPACE);
        }
        return cublasLt;
    }

    /** How many algorithms cuBLASLt lists for a · wᵀ into out (a f32 is taken as cast to w's type, as matmulT does). */
    public int cublasLtAlgorithms(Matrix a, Matrix w, Matrix out) {
        if (a.cols() != w.cols()) {
            throw new IllegalArgumentException("matmulT shapes: a " + a + ", w " + w + ", out " + out);
        }
        return cublasLt().algorithms(a.rows(), w, out);
    }

    /** cuBLASLt's algorithm {@code algorithm} for this product, in words (its workspace and waves). */
    public String cublasLtAlgorithm(Matrix a, Matrix w, Matrix out, int algorithm) {
        return cublasLt().describe(new Matrix(a.buffer(), w.dtype(), a.rows(), a.cols()), w, out, algorithm);
    }

    /**
     * out = a · wᵀ on cuBLASLt's algorithm {@code algorithm} for the shape (benchmarks; matmulT takes cuBLAS's own
     * choice): the cast of an f32 a first, as matmulT's cuBLAS path does.
     */
    public void matmulTCublasLt(Matrix a, Matrix w, Matrix out, int algorithm) {
        CublasLtGemm lt = cublasLt();
        Matrix cast = inWeightType(a, w);
        KernelTimeline t = kernels.timeline;
        boolean timed = t != null && t.begin();
        lt.matmulT(cast, w, out, algorithm);
        if (timed) {
            t.end("cublaslt a" + algorithm + " " + shape(a, w));
        }
    }

    private void cublas(Matrix a, Matrix w, Matrix out) {
        KernelTimeline t = kernels.timeline;
        boolean timed = t != null && t.begin();
        gemm.matmulT(a, w, out);
        if (timed) {
            t.end("cublas " + shape(a, w));
        }
    }

    private static String shape(Matrix a, Matrix w) {
        return shape(a.rows(), w.rows(), a.cols());
    }

    private static String shape(int m, int n, int k) {
        return m + "x" + n + "x" + k + " (m x n x k)";
    }

    /**
     * Times every kernel these ops launch on their stream from now on, until {@code null} (profiling a step;
     * the timeline's events cost the device about a microsecond each). Not while capturing a graph.
     */
    public void timeline(KernelTimeline t) {
        kernels.timeline = t;
    }

    /** A timeline on these ops' stream with room for {@code launches} kernels. */
    public KernelTimeline newTimeline(int launches) {
        return new KernelTimeline(device, stream, launches);
    }

    /**
     * One launch, no cast: out = a · wᵀ with a f32 and w bf16/f16 (cohort_gemv_*, see {@link Gemv}), or a fused
     * form of it ({@code form} non-null, cohort_gemv_&lt;form&gt;_*): with {@link Gemv.Fused#silu} a is the packed
     * gate|up {@code [m, 2k]}; with {@link Gemv.Fused#norm} a is the raw residual and the product is of its
     * RMSNorm by normWeight (the weights' type); with {@link Gemv.Fused#add} out is the residual (added into),
     * and with {@link Gemv.Fused#addNorm} the last block then writes {@code normed = rmsNorm(residual) *
     * normWeight}. Every GEMV launch goes through here.
     */
    private void gemv(Gemv.Fused form, Matrix a, Matrix w, Matrix out, Matrix normWeight, float eps, Matrix normed) {
        boolean silu = form != null && form.silu, addNorm = form != null && form.addNorm;
        boolean norm = form != null && form.norm, add = form != null && form.add;
        boolean swiglu = form != null && form.swiglu;
        int m = a.rows(), k = w.cols(), n = w.rows();
        if (a.cols() != (silu ? 2 * k : k) || out.rows() != m || out.cols() != (swiglu ? n / 2 : n)
                || (swiglu && n % 2 != 0)) {
            throw new IllegalArgumentException((silu ? "siluMatmulT" : "matmulT") + " shapes: a " + a + ", w " + w
                    + ", out " + out);
        }
        if (add) {
            f32(out, "residual");
        }
        if (addNorm) {
            f32(normed, "normed output");
            if (normWeight.elements() != n || normed.rows() != m || normed.cols() != n) {
                throw new IllegalArgumentException("matmulTAddRmsNorm shapes: residual " + out + ", norm weight "
                        + normWeight + ", normed " + normed);
            }
        }
        if (norm && (normWeight.elements() != k || normWeight.dtype() != w.dtype())) {
            throw new IllegalArgumentException("rmsNormMatmulT: norm weight " + normWeight + " for weight " + w);
        }
        if (n == 0) {
            return;
        }
        int tile = Gemv.tile(m);
        kernels.pointers(a.buffer().address(), w.buffer().address(),
                addNorm || norm ? normWeight.buffer().address() : 0, out.buffer().address(),
                addNorm ? gemvTicket.address() : 0).sizes(n, m, k);
        if (addNorm) {
            kernels.gemvNorm(normWeight.dtype(), eps, normed.buffer().address());
        } else if (norm) {
            kernels.eps(eps);
        }
        String label = form == null ? "gemv" : form.label();
        kernels.launch(form == null ? kernels.gemv(w.dtype(), tile) : kernels.gemvFused(form, w.dtype(), tile),
                Gemv.blocks(tile, n), Gemv.threads(tile, k),
                kernels.timeline == null ? label : label + " " + shape(m, n, k));
    }

    /**
     * Whether the residual-stream forms (norm prologue, add epilogue) take the product of a (rows of width k) by
     * w: on ({@link #useNormInGemv}), a fused tile and the plain rule.
     */
    private boolean residualTakes(Matrix a, int k, Matrix w) {
        return normInGemvOn && Gemv.fuses(a.rows()) && gemvTakes(a, k, w, DType.F32);
    }

    /** One launch (cohort_gemv_norm_*) where the GEMV takes the product, else rmsNorm into normed then matmulT. */
    @Override
    public void rmsNormMatmulT(Matrix x, Matrix normWeight, float eps, Matrix normed, Matrix w, Matrix out) {
        if (x.cols() == w.cols() && normWeight.dtype() == w.dtype() && normWeight.elements() == w.cols() && f32(out)
                && residualTakes(x, w.cols(), w)) {
            gemv(Gemv.Fused.NORM, x, w, out, normWeight, eps, null);
            return;
        }
        TensorOps.super.rmsNormMatmulT(x, normWeight, eps, normed, w, out);
    }

    /** One launch (cohort_gemv_swiglu_*, the same bits) where the GEMV takes the product, else matmulT then siluMulPacked. */
    @Override
    public void matmulTSwiGlu(Matrix x, Matrix w, Matrix gu, Matrix g) {
        if (x.cols() == w.cols() && w.rows() % 2 == 0 && f32(g) && residualTakes(x, w.cols(), w)) {
            gemv(Gemv.Fused.SWIGLU, x, w, g, null, 0, null);
            return;
        }
        TensorOps.super.matmulTSwiGlu(x, w, gu, g);
    }

    /** One launch (cohort_gemv_norm_swiglu_*) where the GEMV takes the product, else the unfused ops. */
    @Override
    public void rmsNormMatmulTSwiGlu(Matrix x, Matrix normWeight, float eps, Matrix normed, Matrix w, Matrix gu, Matrix g) {
        if (x.cols() == w.cols() && w.rows() % 2 == 0 && normWeight.dtype() == w.dtype()
                && normWeight.elements() == w.cols() && f32(g) && residualTakes(x, w.cols(), w)) {
            gemv(Gemv.Fused.NORM_SWIGLU, x, w, g, normWeight, eps, null);
            return;
        }
        TensorOps.super.rmsNormMatmulTSwiGlu(x, normWeight, eps, normed, w, gu, g);
    }

    /** One launch (cohort_gemv_add_*) where the GEMV takes the product, else matmulT then add. */
    @Override
    public void matmulTAdd(Matrix a, Matrix w, Matrix out, Matrix residual) {
        if (a.cols() == w.cols() && residualTakes(a, w.cols(), w)) {
            gemv(Gemv.Fused.ADD, a, w, residual, null, 0, null);
            return;
        }
        TensorOps.super.matmulTAdd(a, w, out, residual);
    }

    /**
     * siluMulPacked then the add-epilogue GEMV ({@link #matmulTAdd}); one launch (cohort_gemv_silu_add_*) only with
     * the opt-in fused forms ({@link #useFusedGemv}): its prologue recomputes the SwiGLU of the whole row in every
     * block, which on an H200 made the 8B down 65.0 us against 33.3 us for silu, then the GEMV with the add
     * (DecodeOpsBench, 2026-12-02).
     */
    @Override
    public void siluMatmulTAdd(Matrix gateUp, Matrix g, Matrix w, Matrix out, Matrix residual) {
        if (gateUp.cols() == 2 * w.cols() && fusedTakes(gateUp, w.cols(), w)) {
            gemv(Gemv.Fused.SILU_ADD, gateUp, w, residual, null, 0, null);
            return;
        }
        TensorOps.super.siluMatmulTAdd(gateUp, g, w, out, residual);
    }

    /** Whether the fused form of the product of a (rows of width k) by w takes the GEMV: a fused tile and the plain rule. */
    private boolean fusedTakes(Matrix a, int k, Matrix w) {
        return fusedGemvOn && Gemv.fuses(a.rows()) && gemvTakes(a, k, w, DType.F32);
    }

    /** One launch (cohort_gemv_silu_*) where the GEMV takes the product, else siluMulPacked then matmulT. */
    @Override
    public void siluMatmulT(Matrix gateUp, Matrix g, Matrix w, Matrix out) {
        if (gateUp.cols() == 2 * w.cols() && f32(out) && fusedTakes(gateUp, w.cols(), w)) {
            gemv(Gemv.Fused.SILU, gateUp, w, out, null, 0, null);
            return;
        }
        TensorOps.super.siluMatmulT(gateUp, g, w, out);
    }

    /** One launch (cohort_gemv_addnorm_*) where the GEMV takes the product, else matmulT then addRmsNorm. */
    @Override
    public void matmulTAddRmsNorm(Matrix a, Matrix w, Matrix out, Matrix residual, Matrix normWeight, float eps,
                                  Matrix normed) {
        if (fusedTakes(a, a.cols(), w)) {
            gemv(Gemv.Fused.ADDNORM, a, w, residual, normWeight, eps, normed);
            return;
        }
        TensorOps.super.matmulTAddRmsNorm(a, w, out, residual, normWeight, eps, normed);
    }

    /**
     * One launch on every rank (cohort_gemv_arnorm_*, gemv.cu) where the GEMV takes the product of a decode row or
     * two: the GEMV stores its partial sums into the group's staging and its last block runs the all-reduce + add +
     * RMSNorm. Else false, and nothing is enqueued (the caller runs the GEMV and the collective apart).
     */
    @Override
    public boolean matmulTAllReduceAddRmsNorm(Matrix x, Matrix w, Matrix residual, RmsNorm norm, Matrix normed,
                                              AllReduceEpilogue allReduce) {
        int m = x.rows(), k = w.cols(), n = w.rows();
        if (m < 1 || m > Gemv.TILES[NnKernels.ARNORM_TILES - 1] || x.cols() != k || n == 0
                || residual.rows() != m || residual.cols() != n || normed.rows() != m || normed.cols() != n
                || norm.weight().elements() != n || !f32(residual) || !f32(normed) || !gemvTakes(x, k, w, DType.F32)) {
            return false;
        }
        int tile = Gemv.tile(m);
        MemorySegment f = kernels.gemvArNorm(w.dtype(), tile);
        if (f == null) {
            return false;
        }
        kernels.pointers(x.buffer().address(), w.buffer().address(), norm.weight().buffer().address(), 0,
                gemvTicket.address()).sizes(n, m, k);
        kernels.gemvNorm(norm.weight().dtype(), norm.eps(), 0);
        kernels.launchWithAllReduce(f, Gemv.blocks(tile, n), Gemv.threads(tile, k),
                kernels.timeline == null ? "gemv all-reduce" : "gemv all-reduce " + shape(m, n, k), allReduce,
                stream.isCapturing(), residual, norm, normed);
        return true;
    }

    /** One launch (cohort_gemv_silu_addnorm_*) where the GEMV takes the product, else the unfused ops. */
    @Override
    public void siluMatmulTAddRmsNorm(Matrix gateUp, Matrix g, Matrix w, Matrix out, Matrix residual,
                                      Matrix normWeight, float eps, Matrix normed) {
        if (gateUp.cols() == 2 * w.cols() && fusedTakes(gateUp, w.cols(), w)) {
            gemv(Gemv.Fused.SILU_ADDNORM, gateUp, w, residual, normWeight, eps, normed);
            return;
        }
        TensorOps.super.siluMatmulTAddRmsNorm(gateUp, g, w, out, residual, normWeight, eps, normed);
    }

    @Override
    public void rmsNorm(Matrix x, Matrix weight, float eps, Matrix out) {
        f32(x, "rmsNorm input");
        f32(out, "rmsNorm output");
        if (weight.elements() != x.cols() || out.rows() != x.rows() || out.cols() != x.cols()) {
            throw new IllegalArgumentException("rmsNorm shapes: " + x + ", " + weight + ", " + out);
        }
        kernels.pointers(x.buffer().address(), weight.buffer().address(), 0, out.buffer().address(), 0)
                .sizes(0, x.rows(), x.cols()).eps(eps)
                .launch(kernels.rmsNorm(weight.dtype()), x.rows(), NnKernels.THREADS, "rmsNorm");
    }

    @Override
    public void rotary(Matrix x, int heads, int headDim, int startPos, Matrix table) {
        f32(x, "rotary input");
        if (x.cols() != heads * headDim || table.cols() != headDim || table.dtype() != DType.F32
                || startPos + x.rows() > table.rows()) {
            throw new IllegalArgumentException("rotary: " + x + " as " + heads + " heads of " + headDim + " from position "
                    + startPos + " with table " + table);
        }
        long pairs = (long) x.rows() * heads * (headDim / 2);
        kernels.pointers(0, table.buffer().address(), 0, x.buffer().address(), 0).sizes(0, x.rows(), x.cols())
                .heads(heads, heads, headDim, startPos, 0).pos(stepPosition())
                .launch(kernels.rotary, NnKernels.gridFor(pairs), NnKernels.THREADS, "rotary");
    }

    @Override
    public void siluMul(Matrix gate, Matrix up, Matrix out) {
        elementwise(kernels.siluMul, gate, up, out, "siluMul");
    }

    @Override
    public void siluMulPacked(Matrix gateUp, Matrix out) {
        f32(gateUp, "siluMulPacked input");
        f32(out, "siluMulPacked output");
        if (gateUp.rows() != out.rows() || gateUp.cols() != 2 * out.cols()) {
            throw new IllegalArgumentException("siluMulPacked: " + gateUp + " is not gate|up for " + out);
        }
        kernels.pointers(gateUp.buffer().address(), 0, 0, out.buffer().address(), 0).sizes(0, out.rows(), out.cols())
                .launch(kernels.siluMulPacked, NnKernels.gridFor(out.elements()), NnKernels.THREADS, "siluMulPacked");
    }

    /** One launch: the residual add and the norm after it (cohort_nn_add_rmsnorm). */
    @Override
    public void addRmsNorm(Matrix x, Matrix delta, Matrix weight, float eps, Matrix normed) {
        f32(x, "addRmsNorm residual");
        f32(delta, "addRmsNorm delta");
        f32(normed, "addRmsNorm output");
        if (weight.elements() != x.cols() || delta.rows() != x.rows() || delta.cols() != x.cols()
                || normed.rows() != x.rows() || normed.cols() != x.cols()) {
            throw new IllegalArgumentException("addRmsNorm shapes: " + x + ", " + delta + ", " + weight + ", " + normed);
        }
        kernels.pointers(x.buffer().address(), delta.buffer().address(), weight.buffer().address(),
                        normed.buffer().address(), 0)
                .sizes(0, x.rows(), x.cols()).eps(eps)
                .launch(kernels.addRmsNorm(weight.dtype()), x.rows(), NnKernels.THREADS, "addRmsNorm");
    }

    @Override
    public void add(Matrix a, Matrix b, Matrix out) {
        elementwise(kernels.add, a, b, out, "add");
    }

    private void elementwise(MemorySegment kernel, Matrix a, Matrix b, Matrix out, String what) {
        f32(a, what);
        f32(b, what);
        f32(out, what);
        if (a.elements() != b.elements() || a.elements() != out.elements()) {
            throw new IllegalArgumentException(what + ": sizes differ, " + a + ", " + b + ", " + out);
        }
        kernels.pointers(a.buffer().address(), b.buffer().address(), 0, out.buffer().address(), 0)
                .sizes(a.elements(), 0, 0).launch(kernel, NnKernels.gridFor(a.elements()), NnKernels.THREADS, what);
    }

    @Override
    public void writePositions(Matrix src, Matrix cache, int startPos) {
        if (!stepInputs) {
            copyRows(src, cache, startPos);
            return;
        }
        f32(src, "cache write");
        f32(cache, "cache");
        if (src.cols() != cache.cols() || src.rows() > cache.rows()) {
            throw new IllegalArgumentException("writePositions: " + src + " into " + cache);
        }
        kernels.pointers(src.buffer().address(), 0, 0, cache.buffer().address(), 0).sizes(0, src.rows(), src.cols())
                .pos(stepBlock())
                .launch(kernels.copyRowsAt, NnKernels.gridFor(src.elements()), NnKernels.THREADS, "cache write");
    }

    /** One launch (cohort_nn_rotary_kv_write): q and k rotated, rotated k and v stored at the step's position. */
    @Override
    public void rotaryKvWrite(Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim, int startPos,
                              Matrix table, Matrix kCache, Matrix vCache) {
        for (Matrix m : new Matrix[] {q, k, v, kCache, vCache, table}) {
            f32(m, "rotaryKvWrite operand");
        }
        int kvw = kvHeads * headDim;
        if (q.cols() != heads * headDim || k.cols() != kvw || v.cols() != kvw || k.rows() != q.rows()
                || v.rows() != q.rows() || kCache.cols() != kvw || vCache.cols() != kvw || table.cols() != headDim
                || startPos + q.rows() > Math.min(table.rows(), Math.min(kCache.rows(), vCache.rows()))) {
            throw new IllegalArgumentException("rotaryKvWrite: q " + q + ", k " + k + ", v " + v + " as " + heads + "/"
                    + kvHeads + " heads of " + headDim + " at " + startPos + " into " + kCache + ", table " + table);
        }
        long work = (long) q.rows() * ((long) (heads + kvHeads) * (headDim / 2) + kvw);
        kernels.pointers(k.buffer().address(), table.buffer().address(), v.buffer().address(), q.buffer().address(), 0)
                .extra(kCache.buffer().address(), vCache.buffer().address())
                .sizes(0, q.rows(), q.cols()).heads(heads, kvHeads, headDim, startPos, kCache.rows())
                .pos(stepPosition())
                .launch(kernels.rotaryKvWrite, NnKernels.gridFor(work), NnKernels.THREADS, "rotaryKvWrite");
    }

    @Override
    public void copyColumns(Matrix src, int fromCol, Matrix dst) {
        io.cohort.nn.host.HostTensorOps.checkColumns(src, fromCol, dst);
        long e = src.dtype().bytes();
        stream.copy2D(src.buffer(), fromCol * e, src.cols() * e, dst.buffer(), 0, dst.cols() * e, dst.cols() * e, src.rows());
    }

    @Override
    public void embed(Matrix table, int vocabStart, int[] tokens, Matrix out) {
        f32(out, "embed output");
        if (out.rows() != tokens.length || out.cols() != table.cols()) {
            throw new IllegalArgumentException("embed: " + tokens.length + " tokens into " + out);
        }
        if (stepInputs) {   // the tokens come from the step block at every replay
            if (tokens.length > STEP_TOKENS) {
                throw new IllegalArgumentException("a graph step takes at most " + STEP_TOKENS + " tokens");
            }
            kernels.pointers(table.buffer().address(), stepBlock() + TOKENS_AT, 0, out.buffer().address(), 0)
                    .sizes(0, tokens.length, table.cols()).vocab(vocabStart, table.rows())
                    .launch(kernels.embed(table.dtype()), NnKernels.gridFor(out.elements()), NnKernels.THREADS, "embed");
            return;
        }
        long bytes = 4L * tokens.length;
        if (tokenStaging.byteSize() < bytes) {
            tokenStaging = arena.allocate(Math.max(bytes, 256), 16);
        }
        MemorySegment.copy(tokens, 0, tokenStaging, ValueLayout.JAVA_INT, 0, tokens.length);
        DeviceBuffer tokenDevice = tokenBuffer.atLeast(bytes);
        stream.copyFromHost(tokenStaging.asSlice(0, bytes), tokenDevice, 0);
        kernels.pointers(table.buffer().address(), tokenDevice.address(), 0, out.buffer().address(), 0)
                .sizes(0, tokens.length, table.cols()).vocab(vocabStart, table.rows())
                .launch(kernels.embed(table.dtype()), NnKernels.gridFor(out.elements()), NnKernels.THREADS, "embed");
        // the staging is reused by the next call: the copy must have read it
        stream.synchronize();
    }

    @Override
    public void copyRows(Matrix src, Matrix dst, int dstRow) {
        if (src.dtype() != dst.dtype() || src.cols() != dst.cols() || dstRow < 0 || dstRow + src.rows() > dst.rows()) {
            throw new IllegalArgumentException("copyRows: " + src + " into row " + dstRow + " of " + dst);
        }
        stream.copy(src.buffer(), 0, dst.buffer(), (long) dstRow * dst.cols() * dst.dtype().bytes(), src.byteSize());
    }

    /** The attention kernels these ops launch (tests and benchmarks call them directly). */
    public CudaAttention attentionKernels() {
        return attention;
    }

    /** On the kernel {@link CudaAttention#kernelFor} picks. */
    @Override
    public void attention(Matrix q, Matrix kCache, Matrix vCache, int heads, int kvHeads, int headDim, int startPos,
                          Matrix out) {
        attention.attention(q, kCache, vCache, heads, kvHeads, headDim, startPos, out);
    }

    /** One launch where {@link CudaAttention#rotaryAttention} takes the step, else rotaryKvWrite then attention. */
    @Override
    public void rotaryAttention(Matrix q, Matrix k, Matrix v, int heads, int kvHeads, int headDim, int startPos,
                                Matrix table, Matrix kCache, Matrix vCache, Matrix out) {
        if (!attention.rotaryAttention(q, k, v, heads, kvHeads, headDim, startPos, table, kCache, vCache, out)) {
            TensorOps.super.rotaryAttention(q, k, v, heads, kvHeads, headDim, startPos, table, kCache, vCache, out);
        }
    }

    @Override
    public void synchronize() {
        stream.synchronize();
    }

    @Override
    public void close() {
        stream.synchronize();
        attention.close();
        castScratch.close();
        tokenBuffer.close();
        for (DeviceBuffer b : new DeviceBuffer[] {gemmWorkspace, gemvTicket, argmaxOut, argmaxHost}) {
            if (b != null) {
                device.free(b);
            }
        }
        gemm.close();
        if (cublasLt != null) {
            cublasLt.close();
            device.free(cublasLtWorkspace);
        }
        computeDone.close();
        otherDone.close();
        device.free(step);
        device.free(stepDevice);
        if (downloadStaging != null) {
            device.free(downloadStaging);
        }
        stream.close();
        arena.close();
    }
}
