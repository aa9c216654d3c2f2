// Skinny GEMM for decode (io.cohort.nn.cuda.CudaTensorOps#matmulT, 1-16 tokens): out[m, n] (f32) =
// a[m, k] (f32) · w[n, k]^T, w bf16 or f16 row-major [out, in]. cuBLAS needs a cast of the activations and is
// far from the copy bandwidth on small weights; here the weights stream once, activations stay f32 (no cast).
//
// Each block owns COLS consecutive weight rows (output columns) and splits k over its threads: thread t
// reads 16-byte vectors t, t + blockDim, ... of each of its rows (coalesced across the block), with U * COLS
// independent loads issued before any use so enough bytes are in flight to stream at HBM speed. One vector of
// 8 weights is reused for every activation row (M accumulators per column). Then a warp-shuffle reduction,
// one partial per warp in shared memory, and the first M * COLS threads sum the warps' partials.
//
// Fused forms (decode launches are ~3 us each, so a layer saves three; CudaTensorOps#siluMatmulT,
// #matmulTAddRmsNorm, #siluMatmulTAddRmsNorm), the same GEMV body with a prologue and/or an epilogue:
//  * SILU (cohort_gemv_silu_*): a is the packed gate|up output gu[m, 2k] and the activation is computed as it is
//    loaded, x[j] = silu(gu[j]) * gu[k + j] with cohort_nn_silu_mul_packed's f32 expression, so the product is
//    bit-identical to siluMulPacked then the plain GEMV (every block recomputes the row: 8 M silu per 16-byte
//    weight vector of its COLS columns, cheap beside the weight stream but not free at k = 14336).
//  * ADDNORM (cohort_gemv_addnorm_*): out is the residual [m, n]; each block adds its columns' sums into it in
//    place (a column belongs to one block), then takes a ticket (fence, atomicAdd on a counter in scratch); the
//    block that draws gridDim.x - 1 is the last, resets the counter to 0 (the next launch, a graph replay, finds
//    it zeroed) and computes normed[m, i] = r[m, i] * rsqrt(mean(r^2) + eps) * gamma[i] for every row, reading
//    the residual through L2 (__ldcg). Its reduction replays cohort_nn_add_rmsnorm's 256-thread block_reduce
//    exactly (per-thread strided fma sums of 256 virtual threads, warp butterflies, then the 8 warps' partials),
//    whatever this block's own size, so residual and normed are bit-identical to matmulT then addRmsNorm.
//  * both (cohort_gemv_silu_addnorm_*).
//  * NORM (cohort_gemv_norm_*): the RMSNorm of a in the prologue (see gemv below): the projection after a norm
//    (qkv, gate|up, the LM head) reads the raw residual, so no norm kernel runs between the layers' GEMVs.
//  * ADD (cohort_gemv_add_*, cohort_gemv_silu_add_*): out is the residual, each block adds its columns' sums
//    into it in place and nothing else (the norm is the next GEMV's prologue).
//  * SWIGLU (cohort_gemv_swiglu_*, cohort_gemv_norm_swiglu_*): gate|up writing g = silu(gate) * up (see gemv).
//    With these a layer at tp = 1 is
//    qkv (norm) -> rotary + KV write -> attention -> o_proj (add) -> gate|up (norm, swiglu) -> down (add). The
//    SILU prologue is opt-in only (cohort.nn.fusedGemv): every block recomputes the SwiGLU of the whole row
//    (expf and a division per element), which doubled the 8B down (65.0 vs 33.3 us on an H200).
// Fused tiles: m = 1, 2, 4 (Gemv.FUSED_MAX_ROWS); the host falls back to the unfused ops elsewhere.
//
// The host (io.cohort.nn.cuda.Gemv) guarantees: k % 8 == 0, a and w 16-byte aligned, 1 <= rows <= M,
// blockDim a multiple of 32 and <= GEMV_MAX_THREADS, grid = ceil(n / COLS). It mirrors the tile table below.
// a must not alias out, residual or normed.
#include "allreduce.cuh"
#include "nn_args.cuh"

using namespace cohort;


constexpr int GEMV_MAX_THREADS = 256;

// 8 packed weights (one uint4, element 0 in the low half of .x) widened to float.
template <typename W>
__device__ __forceinline__ void widen8(const uint4& v, float* f);

template <>
__device__ __forceinline__ void widen8<BF16>(const uint4& v, float* f) {
    const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {  // bf16 is the top half of an f32: widening is a shift
        f[2 * i] = __uint_as_float(u[i] << 16);
        f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
    }
}

template <>
__device__ __forceinline__ void widen8<F16>(const uint4& v, float* f) {
    const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const float2 p = __half22float2(*reinterpret_cast<const __half2*>(&u[i]));
        f[2 * i] = p.x;
        f[2 * i + 1] = p.y;
    }
}

// The fused kernels take all of NnArgs. Fields beyond GemvArgs' meaning there:
//   a       activations [m, k], or (SILU) the packed gate|up [m, 2k]
//   c       (ADDNORM) the norm weight gamma [n], of type heads
//   out     the output [m, n], or (ADDNORM) the residual [m, n], updated in place
//   scratch (ADDNORM) the ticket counter: one unsigned int, 0 between launches (the last block resets it)
//   heads   the norm weight's type: 0 = f32, 1 = f16, 2 = bf16 (io.cohort.core.DType ordinals)
//   eps     the norm's eps
//   d       the norm's output [m, n]

// cohort_nn_add_rmsnorm's block (io.cohort.nn.cuda.NnKernels.THREADS): the epilogue replays its reduction order.
constexpr int NORM_THREADS = 256, NORM_WARPS = NORM_THREADS / 32;

// The last block's RMSNorm of every row of the residual r [rows, n] into normed, with the arithmetic of
// cohort_nn_add_rmsnorm (nn_kernels.cu) launched with NORM_THREADS threads: virtual thread vt sums
// fma(v, v, ss) over i = vt, vt + 256, ... in that order; block_reduce: a butterfly (xor 16 .. 1) within each
// virtual warp, then lane l < 8 takes warp l's sum (0 past) and the same butterfly; inv = rsqrt(ss / n + eps);
// normed = (r * inv) * gamma. Float addition is commutative, so every lane of a butterfly holds the same sum.
// This block has blockDim <= 256 threads (32 on short rows): thread t plays virtual threads t, t + blockDim, ...
// (at most VT_MAX), all rows at once, so each step has rows * VT_MAX independent loads in flight.
constexpr int VT_MAX = NORM_THREADS / 32;

template <typename G, int M>
__device__ __forceinline__ void rmsnorm_store(const float* r, int rows, int n, const typename G::bits* gamma,
                                              const float* inv, float* normed) {
#pragma unroll
    for (int m = 0; m < M; m++) {
        if (m >= rows) break;
        const float* x = r + (int64_t)m * n;
        float* out = normed + (int64_t)m * n;
#pragma unroll 8
        for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = __ldcg(x + i) * inv[m] * G::load(gamma[i]);
    }
}

template <int M>
__device__ __forceinline__ void rmsnorm_rows(const float* r, int rows, int n, const void* gamma, int type, float eps,
                                             float* normed) {
    __shared__ float thread_sum[M][NORM_THREADS];
    __shared__ float warp_sum[M][NORM_WARPS];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float ss[M][VT_MAX];
#pragma unroll
    for (int m = 0; m < M; m++)
#pragma unroll
        for (int q = 0; q < VT_MAX; q++) ss[m][q] = 0.f;
    for (int j = 0; j < n; j += NORM_THREADS) {   // element vt + j of each virtual thread vt, j ascending
#pragma unroll
        for (int m = 0; m < M; m++) {
            if (m >= rows) break;
#pragma unroll
            for (int q = 0; q < VT_MAX; q++) {
                const int vt = threadIdx.x + q * blockDim.x, i = vt + j;
                if (vt < NORM_THREADS && i < n) {
                    const float v = __ldcg(r + (int64_t)m * n + i);
                    ss[m][q] = fmaf(v, v, ss[m][q]);
                }
            }
        }
    }
#pragma unroll
    for (int m = 0; m < M; m++)
#pragma unroll
        for (int q = 0; q < VT_MAX; q++) {
            const int vt = threadIdx.x + q * blockDim.x;
            if (vt < NORM_THREADS) thread_sum[m][vt] = ss[m][q];
        }
    __syncthreads();
    for (int vw = warp; vw < M * NORM_WARPS; vw += warps) {   // uniform per warp
        const int m = vw / NORM_WARPS, w = vw % NORM_WARPS;
        float v = thread_sum[m][w * 32 + lane];
        for (int o = 16; o > 0; o >>= 1) v = v + __shfl_xor_sync(0xffffffffu, v, o);
        if (lane == 0) warp_sum[m][w] = v;
    }
    __syncthreads();
    float inv[M];
#pragma unroll
    for (int m = 0; m < M; m++) {
        float t = lane < NORM_WARPS ? warp_sum[m][lane] : 0.f;
        for (int o = 16; o > 0; o >>= 1) t = t + __shfl_xor_sync(0xffffffffu, t, o);
        inv[m] = rsqrtf(t / n + eps);
    }
    if (type == 0) {
        rmsnorm_store<F32, M>(r, rows, n, static_cast<const F32::bits*>(gamma), inv, normed);
    } else if (type == 1) {
        rmsnorm_store<F16, M>(r, rows, n, static_cast<const F16::bits*>(gamma), inv, normed);
    } else {
        rmsnorm_store<BF16, M>(r, rows, n, static_cast<const BF16::bits*>(gamma), inv, normed);
    }
}

// What a GEMV does with its column sums: store them, add them into out in place (the residual), add them and
// then (the last block) write the RMSNorm of every row, or (ARNORM) store them into this rank's P2P staging and
// then (the last block) run the all-reduce + residual add + RMSNorm of allreduce.cu over them.
enum Epilogue { STORE = 0, ADD = 1, ADDNORM = 2, ARNORM = 3 };

// ARNORM: the row-parallel GEMV of a tensor-parallel layer (o_proj, down) with the all-reduce after it fused in:
// one launch instead of two (the GEMV, then cohort_ar_add_rmsnorm_*) on every rank, the kernel boundary and the
// staging copy gone. Every block stores its column sums straight into this rank's staging for the launch's
// parity (the plain fused all-reduce copies them there first), takes a ticket as ADDNORM does, and the last
// block plays block 0 of a one-block cohort_ar_add_rmsnorm: it meets the last blocks of the peers at flag slot
// 0, sums the ranks' partials in rank order into the residual and writes the norm, bit-identical on every rank.
// Only that one block per rank ever spins, as with the unfused kernel, and like it this GEMV never lets the next
// kernel in early (pdl_grid_wait, not pdl_wait). Eager launches take epoch and parity from
// the host (ar.g.launches == 0); graph launches from this rank's launch counter of block 0, bumped at the end.
// Its norm's summation runs over this GEMV's block (256 threads, not the all-reduce kernel's), so normed may
// differ from the unfused path's in the last bits; it never differs between ranks.
struct GemvArNormArgs {
    NnArgs p;                   // the GEMV's (p.out unused: the staging is the output; p.scratch the ticket)
    FusedArArgs ar;             // the fused all-reduce's, as io.cohort.cuda.p2p.CudaP2pBackend packs them
};

// U * COLS weight vectors of this thread, from vector v0 on (columns' rows w[c]); past kv: zeros, never used.
template <int GEMV_COLS, int U>
__device__ __forceinline__ void gemv_fetch(uint4 (&wv)[U][GEMV_COLS], const uint4* const (&w)[GEMV_COLS], int v0,
                                           int kv, int stride) {
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int v = v0 + u * stride;
#pragma unroll
        for (int c = 0; c < GEMV_COLS; c++) wv[u][c] = v < kv ? __ldcs(w[c] + v) : make_uint4(0, 0, 0, 0);
    }
}

// NORM (the RMSNorm before the product, in its prologue): a is the raw residual x, p.c the norm weight gamma [k]
// (type W), and out = rmsnorm(x) . w^T is computed as inv * sum_j (x_j gamma_j) w_j with inv = rsqrt(mean(x^2) +
// eps): every block sums x^2 over the whole row anyway (its threads cover k once), so the norm costs one more
// partial per row instead of a launch. Not the bits of rmsNorm then matmulT (inv is applied after the sum).
// SWIGLU (the epilogue of gate|up; w is the stacked [2F, k] gate then up rows, out is g [m, F]): block b owns
// gate rows b * COLS/2 .. and the up rows F later, and writes g = silu(gate) * up for its COLS/2 features with
// cohort_nn_silu_mul_packed's f32 expression, so g has the bits of the GEMV then siluMulPacked, and the SwiGLU
// needs no launch of its own. Its grid is the plain GEMV's (ceil(2F / COLS) blocks).
template <typename W, int M, int GEMV_COLS, int U, bool SILU, bool NORM, int EPI, bool SWIGLU = false>
__device__ __forceinline__ void gemv(const GemvArgs& p, int norm_type, float eps, void* normed,
                                     const FusedArArgs* ar = nullptr) {
    static_assert(!(SILU && NORM), "one prologue");
    static_assert(!SWIGLU || (EPI == STORE && GEMV_COLS % 2 == 0), "the SwiGLU epilogue stores pairs of columns");
    constexpr int PARTS = M * GEMV_COLS + (NORM ? M : 0);
    __shared__ float partial[GEMV_MAX_THREADS / 32][PARTS];
    const int rows = p.rows, kv = p.cols >> 3;       // kv: 16-byte vectors per weight row
    const int64_t n = p.n, a4 = p.cols >> 2;         // a4: float4s per activation row
    const int64_t n0 = (int64_t)blockIdx.x * GEMV_COLS;
    constexpr int HALF = GEMV_COLS / 2;
    const int64_t feats = n / 2, f0 = (int64_t)blockIdx.x * HALF;   // SWIGLU: features F, this block's first
    const uint4* w[GEMV_COLS];
#pragma unroll
    for (int c = 0; c < GEMV_COLS; c++) {  // columns past n read row n - 1 (in bounds) and are not stored
        int64_t r;
        if (SWIGLU) {   // gate rows f0 .., then the matching up rows
            const int64_t f = f0 + (c % HALF) < feats ? f0 + (c % HALF) : feats - 1;
            r = c < HALF ? f : feats + f;
        } else {
            r = n0 + c < n ? n0 + c : n - 1;
        }
        w[c] = static_cast<const uint4*>(p.b) + r * kv;
    }
    const float4* a = static_cast<const float4*>(p.a);
    const int64_t row4 = SILU ? 2 * a4 : a4;         // float4s per row of a (gate|up: 2k floats)
    const uint4* gamma = static_cast<const uint4*>(p.c);

    float acc[M][GEMV_COLS], ss[M];
#pragma unroll
    for (int m = 0; m < M; m++) {
        ss[m] = 0.f;
#pragma unroll
        for (int c = 0; c < GEMV_COLS; c++) acc[m][c] = 0.f;
    }

    // The weights never depend on the kernel before this one on the stream: the first round of loads is issued
    // before pdl_wait, so under programmatic dependent launch the blocks resident early stream their weights
    // while that kernel finishes (at k = 4096 the first round is a block's whole slice).
    const int stride = blockDim.x;
    uint4 wv[U][GEMV_COLS];
    gemv_fetch<GEMV_COLS, U>(wv, w, threadIdx.x, kv, stride);
    if (EPI == ARNORM) {
        pdl_grid_wait();   // never lets the next kernel in early: its blocks could hold the SMs a peer sharing
                           // this GPU needs to reach the barrier this kernel's last block spins on
    } else {
        pdl_wait();
    }
    for (int v0 = threadIdx.x; v0 < kv;) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int v = v0 + u * stride;
            if (v >= kv) break;
            float wf[GEMV_COLS][8];
#pragma unroll
            for (int c = 0; c < GEMV_COLS; c++) widen8<W>(wv[u][c], wf[c]);
            float g[8];
            if (NORM) widen8<W>(__ldg(gamma + v), g);
#pragma unroll
            for (int m = 0; m < M; m++) {
                if (m >= rows) break;  // uniform across the block
                const float4* am = a + m * row4;
                const float4 x0 = __ldg(am + 2 * v), x1 = __ldg(am + 2 * v + 1);
                float x[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
                if (SILU) {   // cohort_nn_silu_mul_packed's expression: g / (1 + e^-g) * u
                    const float4 u0 = __ldg(am + a4 + 2 * v), u1 = __ldg(am + a4 + 2 * v + 1);
                    const float up[8] = {u0.x, u0.y, u0.z, u0.w, u1.x, u1.y, u1.z, u1.w};
#pragma unroll
                    for (int j = 0; j < 8; j++) x[j] = x[j] / (1.f + expf(-x[j])) * up[j];
                }
                if (NORM) {
#pragma unroll
                    for (int j = 0; j < 8; j++) {
                        ss[m] = fmaf(x[j], x[j], ss[m]);
                        x[j] *= g[j];
                    }
                }
#pragma unroll
                for (int c = 0; c < GEMV_COLS; c++)
#pragma unroll
                    for (int j = 0; j < 8; j++) acc[m][c] = fmaf(x[j], wf[c][j], acc[m][c]);
            }
        }
        v0 += U * stride;
        if (v0 < kv) gemv_fetch<GEMV_COLS, U>(wv, w, v0, kv, stride);
    }

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int m = 0; m < M; m++) {
#pragma unroll
        for (int c = 0; c < GEMV_COLS; c++) {
            float s = acc[m][c];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
            if (lane == 0) partial[warp][m * GEMV_COLS + c] = s;
        }
        if (NORM) {
            float s = ss[m];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
            if (lane == 0) partial[warp][M * GEMV_COLS + m] = s;
        }
    }
    __syncthreads();
    float* out = static_cast<float*>(p.out);
    uint64_t launch = 0;   // ARNORM in a graph: this launch's number from the rank's counter of block 0
    if (EPI == ARNORM) {
        if (ar->g.launches != nullptr) launch = __ldcg(ar->g.launches);   // after pdl_wait: the last bump is seen
        out = static_cast<float*>((launch & 1) ? ar->g.stage1[ar->g.a.rank] : ar->g.a.stage[ar->g.a.rank]);
    }
    if (SWIGLU) {
        for (int i = threadIdx.x; i < M * HALF; i += blockDim.x) {
            const int m = i / HALF, c = i % HALF;
            if (m >= rows || f0 + c >= feats) continue;
            float g = 0.f, u = 0.f;
            for (int j = 0; j < warps; j++) {
                g += partial[j][m * GEMV_COLS + c];
                u += partial[j][m * GEMV_COLS + HALF + c];
            }
            if (NORM) {
                float t = 0.f;
                for (int j = 0; j < warps; j++) t += partial[j][M * GEMV_COLS + m];
                const float inv = rsqrtf(t / p.cols + eps);
                g *= inv;
                u *= inv;
            }
            out[m * feats + f0 + c] = g / (1.f + expf(-g)) * u;   // cohort_nn_silu_mul_packed's expression
        }
        return;
    }
    for (int i = threadIdx.x; i < M * GEMV_COLS; i += blockDim.x) {
        const int m = i / GEMV_COLS, c = i % GEMV_COLS;
        if (m >= rows || n0 + c >= n) continue;
        float s = 0.f;
        for (int j = 0; j < warps; j++) s += partial[j][i];
        if (NORM) {
            float t = 0.f;
            for (int j = 0; j < warps; j++) t += partial[j][M * GEMV_COLS + m];
            s *= rsqrtf(t / p.cols + eps);
        }
        if (EPI == ADD || EPI == ADDNORM) {
            float* r = out + m * n + n0 + c;
            *r = *r + s;   // cohort_nn_add_rmsnorm's x + delta
        } else {
            out[m * n + n0 + c] = s;
        }
    }
    if (EPI == ADDNORM || EPI == ARNORM) {
        __shared__ bool last;
        __threadfence();   // this block's residual columns are visible device-wide before its ticket
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned int* counter = static_cast<unsigned int*>(p.scratch);
            const bool is_last = atomicAdd(counter, 1u) == gridDim.x - 1;
            if (is_last) atomicExch(counter, 0u);   // every block has drawn: zero for the next launch
            last = is_last;
        }
        __syncthreads();
        if (!last) return;   // uniform over the block
        __threadfence();
        if (EPI == ADDNORM) {
            rmsnorm_rows<M>(static_cast<const float*>(p.out), rows, (int)n, p.c, norm_type, eps,
                            static_cast<float*>(normed));
            return;
        }
        ArArgs a = ar->g.a;
        if (ar->g.launches != nullptr) {
            if (launch & 1) {
#pragma unroll
                for (int q = 0; q < MAX_RANKS; q++) a.stage[q] = ar->g.stage1[q];
            }
            a.epoch = 2 * launch + 1;
        }
        if (norm_type == 0) {
            reduce_add_rmsnorm<F32>(a, ar->f, 0, 1);
        } else if (norm_type == 1) {
            reduce_add_rmsnorm<F16>(a, ar->f, 0, 1);
        } else {
            reduce_add_rmsnorm<BF16>(a, ar->f, 0, 1);
        }
        if (ar->g.launches != nullptr) {
            __syncthreads();
            if (threadIdx.x == 0) ar->g.launches[0] = launch + 1;
        }
    }
}

// Tiles of M activation rows: COLS columns per block, U vectors per column in flight per thread; U shrinks as
// the M * COLS accumulators grow (registers). Mirrored in io.cohort.nn.cuda.Gemv (COLS, UNROLL).
#define COHORT_GEMV(T, t, M, COLS, U)                                                                        \
    extern "C" __global__ void __launch_bounds__(GEMV_MAX_THREADS) cohort_gemv_##t##_m##M(GemvArgs p) { \
        gemv<T, M, COLS, U, false, false, STORE>(p, 0, 0.f, nullptr);   /* pdl_wait inside */            \
    }
COHORT_GEMV(BF16, bf16, 1, 4, 4)
COHORT_GEMV(BF16, bf16, 2, 4, 4)
COHORT_GEMV(BF16, bf16, 4, 8, 1)
COHORT_GEMV(BF16, bf16, 8, 4, 2)
COHORT_GEMV(BF16, bf16, 16, 4, 1)
COHORT_GEMV(F16, f16, 1, 4, 4)
COHORT_GEMV(F16, f16, 2, 4, 4)
COHORT_GEMV(F16, f16, 4, 8, 1)
COHORT_GEMV(F16, f16, 8, 4, 2)
COHORT_GEMV(F16, f16, 16, 4, 1)

// Shape variants of the 1- and 2-row bf16 tiles, launched only by GemvSweepBench (CudaTensorOps#matmulTGemvVariant;
// io.cohort.nn.cuda.Gemv.VARIANTS mirrors them): cohort_gemv_bf16_m<M>_c<COLS>_u<U>. At the 8B o_proj (4096 x 4096)
// the 1-row tile's 1024 blocks are about 1.5 waves of the H200's resident blocks, and it streams at 74% of the copy
// bandwidth against 87-100% at the shapes of more waves: fewer columns per block (more, shorter blocks) or more
// vectors in flight per thread may fill the last wave better.
#define COHORT_GEMV_VARIANT(M, COLS, U)                                                                        \
    extern "C" __global__ void __launch_bounds__(GEMV_MAX_THREADS) cohort_gemv_bf16_m##M##_c##COLS##_u##U(GemvArgs p) { \
        gemv<BF16, M, COLS, U, false, false, STORE>(p, 0, 0.f, nullptr);                                         \
    }
COHORT_GEMV_VARIANT(1, 2, 4)
COHORT_GEMV_VARIANT(1, 2, 8)
COHORT_GEMV_VARIANT(1, 4, 2)
COHORT_GEMV_VARIANT(1, 4, 8)
COHORT_GEMV_VARIANT(1, 8, 2)
COHORT_GEMV_VARIANT(2, 2, 4)
COHORT_GEMV_VARIANT(2, 4, 2)
COHORT_GEMV_VARIANT(2, 8, 2)

// The fused forms, on the same tiles (the launch configuration must be the plain kernel's: the reduction order,
// hence the bits, depends on the block size): cohort_gemv_{silu,addnorm,silu_addnorm}_<type>_m<M>.
#define COHORT_GEMV_FUSED(NAME, SILU, NORM, EPI, T, t, M, COLS, U) COHORT_GEMV_FUSED_SW(NAME, SILU, NORM, EPI, false, T, t, M, COLS, U)
#define COHORT_GEMV_FUSED_SW(NAME, SILU, NORM, EPI, SW, T, t, M, COLS, U)                                   \
    extern "C" __global__ void __launch_bounds__(GEMV_MAX_THREADS)                                        \
            cohort_gemv_##NAME##_##t##_m##M(NnArgs p) {                                                  \
        gemv<T, M, COLS, U, SILU, NORM, EPI, SW>(reinterpret_cast<const GemvArgs&>(p), p.heads, p.eps, p.d);   \
    }
#define COHORT_GEMV_FUSED_ALL(T, t, M, COLS, U)                           \
    COHORT_GEMV_FUSED(silu, true, false, STORE, T, t, M, COLS, U)         \
    COHORT_GEMV_FUSED(addnorm, false, false, ADDNORM, T, t, M, COLS, U)   \
    COHORT_GEMV_FUSED(silu_addnorm, true, false, ADDNORM, T, t, M, COLS, U) \
    COHORT_GEMV_FUSED(norm, false, true, STORE, T, t, M, COLS, U)         \
    COHORT_GEMV_FUSED(add, false, false, ADD, T, t, M, COLS, U)           \
    COHORT_GEMV_FUSED(silu_add, true, false, ADD, T, t, M, COLS, U)       \
    COHORT_GEMV_FUSED_SW(swiglu, false, false, STORE, true, T, t, M, COLS, U) \
    COHORT_GEMV_FUSED_SW(norm_swiglu, false, true, STORE, true, T, t, M, COLS, U)
// cohort_gemv_arnorm_<type>_m<M>: the GEMV with the fused all-reduce + add + RMSNorm epilogue (ARNORM above); the
// norm weight's type in p.heads (0 f32, 1 f16, 2 bf16). Tiles of 1 and 2 rows (decode): the 4-row tile spills.
#define COHORT_GEMV_ARNORM(T, t, M, COLS, U)                                                                     \
    extern "C" __global__ void __launch_bounds__(GEMV_MAX_THREADS) cohort_gemv_arnorm_##t##_m##M(GemvArNormArgs q) { \
        gemv<T, M, COLS, U, false, false, ARNORM>(reinterpret_cast<const GemvArgs&>(q.p), q.p.heads, q.p.eps, nullptr, \
                                                  &q.ar);                                                       \
    }
COHORT_GEMV_ARNORM(BF16, bf16, 1, 4, 4)
COHORT_GEMV_ARNORM(BF16, bf16, 2, 4, 4)
COHORT_GEMV_ARNORM(F16, f16, 1, 4, 4)
COHORT_GEMV_ARNORM(F16, f16, 2, 4, 4)

COHORT_GEMV_FUSED_ALL(BF16, bf16, 1, 4, 4)
COHORT_GEMV_FUSED_ALL(BF16, bf16, 2, 4, 4)
COHORT_GEMV_FUSED_ALL(BF16, bf16, 4, 8, 1)
COHORT_GEMV_FUSED_ALL(F16, f16, 1, 4, 4)
COHORT_GEMV_FUSED_ALL(F16, f16, 2, 4, 4)
COHORT_GEMV_FUSED_ALL(F16, f16, 4, 8, 1)

// ---------------------------------------------------------------------------------------------------------------
// Tensor-core skinny GEMM (cohort_tcgemv_<type>_m<8|16>_v<i>; io.cohort.nn.cuda.TcGemv mirrors the table below):
// out[m, n] (f32) = a[m, k] (f32) · w[n, k]^T, w bf16 or f16 [n, k], 1 <= m <= 16 (m8 kernels: m <= 8), k % 8 == 0,
// a and w 16-byte aligned, any n. At 16 rows the CUDA-core GEMV needs 16 FMAs per weight (about the fp32 peak at
// HBM speed); mma.sync.m16n8k16 (f32 accumulate) does them on the tensor cores.
//
// Operands: the mma's A (16 x 16) is 16 weight rows by 16 k, its B (16 x 8) is 16 k by 8 tokens (tokens >= m
// zero), C (16 x 8, f32) is rows x tokens; m16 kernels run two n8 tiles (tokens 0-7, 8-15) on the same A.
// Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"; lane = 4 g + t):
//   A: reg0 = row g,   k {2t, 2t+1}; reg1 = row g+8, k {2t, 2t+1}; reg2 = row g, k {2t+8, 2t+9}; reg3 = row g+8, k {2t+8, 2t+9}
//   B: reg0 = token g, k {2t, 2t+1}; reg1 = token g, k {2t+8, 2t+9}
//   C: c0, c1 = row g, tokens 2t, 2t+1; c2, c3 = row g+8, tokens 2t, 2t+1
// Permuted k: a dot product does not care which k the mma calls "logical k L", as long as A and B agree. Within
// a 32-wide chunk of k, lane (g, t) loads ONE 16-byte vector per row, physical k 8t .. 8t+7 of rows g and g+8,
// and the same 8 k of tokens g (and g+8): mma step s (0, 1) of the chunk takes logical k {2t, 2t+1} from
// physical 8t + 4s + {0, 1} and logical k {2t+8, 2t+9} from physical 8t + 4s + {2, 3}. With the vector's 32-bit
// words x, y, z, w (2 values each, lower k in the low half): step 0 is A = {lo.x, hi.x, lo.y, hi.y}, B = {x01,
// x23}; step 1 is A = {lo.z, hi.z, lo.w, hi.w}, B = {x45, x67} (xij: activations i, j of the lane's 8, packed).
// Logical (s, L) -> physical 8 ((L % 8) / 2) + 4 s + 2 (L / 8) + L % 2 is a bijection onto 0..31 that depends on
// L alone, so every (row, k, token) product is counted once (io.cohort.nn.cuda.TcGemvTest emulates it). A lane's
// chunk segment is either wholly inside k or wholly past it (k % 8 == 0): past it, zeros are used, no load.
//
// Activations are read through L1 (__ldg, f32) and rounded to the weight type with round-to-nearest-even as
// they are loaded (as the cast + cuBLAS path rounds them); weights stream once (ld.global.nc.L1::no_allocate, so
// they do not evict the activations other warps of the SM re-read).
//
// Block: WARPS warps = WARPS / KSPLIT row groups of RT * 16 weight rows, each group's KSPLIT warps splitting k:
// warp ks of a group takes chunks u * KSPLIT + ks (+ round * KSPLIT * U), so at each step the group reads KSPLIT
// consecutive chunks of its rows, and the groups of a block (and blocks on an SM) read the same activations.
// U chunks (2 * RT 16-byte weight loads each) are in flight per lane; chunk u's registers are refilled with the
// next round's chunk u as soon as its mmas are issued. The first round is loaded before pdl_wait (weights never
// depend on the previous kernel). The partial sums go to shared memory and are added over ks in ascending order
// (deterministic; no atomics). Grid: ceil(n / (RT * 16 * WARPS / KSPLIT)) blocks; rows past n read row n - 1 and
// are not stored.

__device__ __forceinline__ uint4 ld_stream(const uint4* p) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}

// Two floats as one packed pair of the weight type, round-to-nearest-even, the first in the low half.
template <typename W>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);

template <>
__device__ __forceinline__ uint32_t pack2<BF16>(float lo, float hi) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
}

template <>
__device__ __forceinline__ uint32_t pack2<F16>(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
}

template <typename W>
__device__ __forceinline__ void mma16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma16816<BF16>(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                               uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma16816<F16>(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                              uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Chunk c's weight vectors of this lane for the RT row tiles (lo: row g, hi: row g + 8); zeros past k.
template <int RT>
__device__ __forceinline__ void tc_fetch(uint4 (&lo)[RT], uint4 (&hi)[RT], const uint4* const (&wlo)[RT],
                                         const uint4* const (&whi)[RT], int c, int t, int k) {
    const bool in = c * 32 + 8 * t < k;
    const int v = c * 4 + t;   // 16-byte vector index in the row
#pragma unroll
    for (int r = 0; r < RT; r++) {
        lo[r] = in ? ld_stream(wlo[r] + v) : make_uint4(0, 0, 0, 0);
        hi[r] = in ? ld_stream(whi[r] + v) : make_uint4(0, 0, 0, 0);
    }
}

template <typename W, int NT, int RT, int WARPS, int KSPLIT, int U>
__device__ __forceinline__ void tcgemv(const GemvArgs& p) {
    static_assert(NT == 1 || NT == 2, "8 or 16 tokens");
    static_assert(WARPS % KSPLIT == 0, "whole row groups");
    constexpr int GROUPS = WARPS / KSPLIT, ROWS = RT * 16, BLOCK_ROWS = GROUPS * ROWS, TOKENS = NT * 8;
    __shared__ float part[WARPS][TOKENS][ROWS + 1];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int group = warp / KSPLIT, ks = warp % KSPLIT;
    const int m = p.rows, k = p.cols;
    const int64_t n = p.n;
    const int64_t kv = k >> 3;   // 16-byte vectors per weight row
    const int64_t row0 = (int64_t)blockIdx.x * BLOCK_ROWS + group * ROWS;
    const uint4* wlo[RT];
    const uint4* whi[RT];
#pragma unroll
    for (int r = 0; r < RT; r++) {
        const int64_t lo = row0 + r * 16 + g, hi = lo + 8;
        wlo[r] = static_cast<const uint4*>(p.b) + (lo < n ? lo : n - 1) * kv;
        whi[r] = static_cast<const uint4*>(p.b) + (hi < n ? hi : n - 1) * kv;
    }
    const int chunks = (k + 31) >> 5;
    constexpr int STEP = KSPLIT * U;   // chunks per round of a row group
    const int rounds = (chunks + STEP - 1) / STEP;

    uint4 lo[U][RT], hi[U][RT];
#pragma unroll
    for (int u = 0; u < U; u++) tc_fetch<RT>(lo[u], hi[u], wlo, whi, u * KSPLIT + ks, t, k);
    pdl_wait();

    // this lane's activation rows: token g (n8 tile 0) and g + 8 (tile 1); rows >= m are zero
    const float* a = static_cast<const float*>(p.a);
    const float* x[NT];
    bool live[NT];
#pragma unroll
    for (int j = 0; j < NT; j++) {
        live[j] = j * 8 + g < m;
        x[j] = a + (int64_t)(live[j] ? j * 8 + g : 0) * k;
    }
    float acc[RT][NT][4];
#pragma unroll
    for (int r = 0; r < RT; r++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int i = 0; i < 4; i++) acc[r][j][i] = 0.f;

    for (int round = 0; round < rounds; round++) {
        // the round's activations first, all U chunks at once: one wait for L1/L2 per round, not one per chunk
        float4 x0[U][NT], x1[U][NT];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int kk = (round * STEP + u * KSPLIT + ks) * 32 + 8 * t;
#pragma unroll
            for (int j = 0; j < NT; j++) {
                if (live[j] && kk < k) {
                    x0[u][j] = __ldg(reinterpret_cast<const float4*>(x[j] + kk));
                    x1[u][j] = __ldg(reinterpret_cast<const float4*>(x[j] + kk) + 1);
                } else {
                    x0[u][j] = x1[u][j] = make_float4(0.f, 0.f, 0.f, 0.f);
                }
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int c = round * STEP + u * KSPLIT + ks;
            uint32_t b[NT][4];
#pragma unroll
            for (int j = 0; j < NT; j++) {   // zeros pack to zeros
                b[j][0] = pack2<W>(x0[u][j].x, x0[u][j].y);
                b[j][1] = pack2<W>(x0[u][j].z, x0[u][j].w);
                b[j][2] = pack2<W>(x1[u][j].x, x1[u][j].y);
                b[j][3] = pack2<W>(x1[u][j].z, x1[u][j].w);
            }
#pragma unroll
            for (int r = 0; r < RT; r++)
#pragma unroll
                for (int j = 0; j < NT; j++) {
                    mma16816<W>(acc[r][j], lo[u][r].x, hi[u][r].x, lo[u][r].y, hi[u][r].y, b[j][0], b[j][1]);
                    mma16816<W>(acc[r][j], lo[u][r].z, hi[u][r].z, lo[u][r].w, hi[u][r].w, b[j][2], b[j][3]);
                }
            if (round + 1 < rounds) tc_fetch<RT>(lo[u], hi[u], wlo, whi, c + STEP, t, k);
        }
    }

    // C fragment: c0, c1 = row g, tokens 2t, 2t+1; c2, c3 = row g + 8, the same tokens
#pragma unroll
    for (int r = 0; r < RT; r++)
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const int tok = j * 8 + 2 * t, row = r * 16 + g;
            part[warp][tok][row] = acc[r][j][0];
            part[warp][tok + 1][row] = acc[r][j][1];
            part[warp][tok][row + 8] = acc[r][j][2];
            part[warp][tok + 1][row + 8] = acc[r][j][3];
        }
    __syncthreads();
    float* out = static_cast<float*>(p.out);
    const int64_t block0 = (int64_t)blockIdx.x * BLOCK_ROWS;
    for (int i = threadIdx.x; i < TOKENS * BLOCK_ROWS; i += WARPS * 32) {
        const int tok = i / BLOCK_ROWS, br = i % BLOCK_ROWS, gr = br / ROWS, row = br % ROWS;
        if (tok >= m || block0 + br >= n) continue;
        float s = 0.f;
#pragma unroll
        for (int q = 0; q < KSPLIT; q++) s += part[gr * KSPLIT + q][tok][row];
        out[tok * n + block0 + br] = s;
    }
}

// Variants (TcGemv.VARIANTS): v, rows per warp (RT * 16), warps, k-split, chunks in flight per lane (U).
#define COHORT_TCGEMV_ONE(T, t, M, NT, V, RT, WARPS, KSPLIT, U)                                                  \
    extern "C" __global__ void __launch_bounds__(WARPS * 32) cohort_tcgemv_##t##_m##M##_v##V(GemvArgs p) {     \
        tcgemv<T, NT, RT, WARPS, KSPLIT, U>(p);   /* pdl_wait inside */                                         \
    }
#define COHORT_TCGEMV(V, RT, WARPS, KSPLIT, U)                         \
    COHORT_TCGEMV_ONE(BF16, bf16, 8, 1, V, RT, WARPS, KSPLIT, U)       \
    COHORT_TCGEMV_ONE(BF16, bf16, 16, 2, V, RT, WARPS, KSPLIT, U)      \
    COHORT_TCGEMV_ONE(F16, f16, 8, 1, V, RT, WARPS, KSPLIT, U)         \
    COHORT_TCGEMV_ONE(F16, f16, 16, 2, V, RT, WARPS, KSPLIT, U)
COHORT_TCGEMV(0, 1, 4, 4, 4)   // 16 rows/warp, 16 rows/block, 128 threads
COHORT_TCGEMV(1, 1, 8, 8, 4)   // 16 rows/warp, 16 rows/block, 256 threads, k over 8 warps
COHORT_TCGEMV(2, 2, 4, 4, 4)   // 32 rows/warp, 32 rows/block, 128 threads
COHORT_TCGEMV(3, 2, 8, 8, 2)   // 32 rows/warp, 32 rows/block, 256 threads
COHORT_TCGEMV(4, 1, 8, 4, 8)   // 16 rows/warp, 2 groups: 32 rows/block, 256 threads, 8 chunks in flight
COHORT_TCGEMV(5, 1, 4, 4, 8)   // 16 rows/warp, 16 rows/block, 128 threads, 8 chunks in flight
COHORT_TCGEMV(6, 1, 16, 16, 4) // 16 rows/warp, 16 rows/block, 512 threads: a row read 1 KiB at a time
COHORT_TCGEMV(7, 1, 16, 16, 2) // the same, 2 chunks in flight
COHORT_TCGEMV(8, 2, 16, 16, 2) // 32 rows/warp, 32 rows/block, 512 threads
