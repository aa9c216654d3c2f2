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
// The host (io.cohort.nn.cuda.Gemv) guarantees: k % 8 == 0, a and w 16-byte aligned, 1 <= rows <= M,
// blockDim a multiple of 32 and <= GEMV_MAX_THREADS, grid = ceil(n / COLS). It mirrors the tile table below.
#include "common.cuh"

using namespace cohort;

// The leading fields of NnArgs (nn_kernels.cu), so io.cohort.nn.cuda.NnKernels packs this struct as it packs
// NnArgs: a = activations, b = weights, out = output, n = weight rows, rows = m, cols = k.
struct GemvArgs {
    const void* a;
    const void* b;
    const void* c;
    void* out;
    void* scratch;
    int64_t n;
    int rows, cols;
};

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

template <typename W, int M, int GEMV_COLS, int U>
__device__ __forceinline__ void gemv(const GemvArgs& p) {
    __shared__ float partial[GEMV_MAX_THREADS / 32][M * GEMV_COLS];
    const int rows = p.rows, kv = p.cols >> 3;       // kv: 16-byte vectors per weight row
    const int64_t n = p.n, a4 = p.cols >> 2;         // a4: float4s per activation row
    const int64_t n0 = (int64_t)blockIdx.x * GEMV_COLS;
    const uint4* w[GEMV_COLS];
#pragma unroll
    for (int c = 0; c < GEMV_COLS; c++) {  // columns past n read row n - 1 (in bounds) and are not stored
        const int64_t r = n0 + c < n ? n0 + c : n - 1;
        w[c] = static_cast<const uint4*>(p.b) + r * kv;
    }
    const float4* a = static_cast<const float4*>(p.a);

    float acc[M][GEMV_COLS];
#pragma unroll
    for (int m = 0; m < M; m++)
#pragma unroll
        for (int c = 0; c < GEMV_COLS; c++) acc[m][c] = 0.f;

    const int stride = blockDim.x;
    for (int v0 = threadIdx.x; v0 < kv; v0 += U * stride) {
        uint4 wv[U][GEMV_COLS];
#pragma unroll
        for (int u = 0; u < U; u++) {  // every load first: U * COLS in flight
            const int v = v0 + u * stride;
#pragma unroll
            for (int c = 0; c < GEMV_COLS; c++) wv[u][c] = v < kv ? __ldcs(w[c] + v) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int v = v0 + u * stride;
            if (v >= kv) break;
            float wf[GEMV_COLS][8];
#pragma unroll
            for (int c = 0; c < GEMV_COLS; c++) widen8<W>(wv[u][c], wf[c]);
#pragma unroll
            for (int m = 0; m < M; m++) {
                if (m >= rows) break;  // uniform across the block
                const float4 x0 = __ldg(a + m * a4 + 2 * v), x1 = __ldg(a + m * a4 + 2 * v + 1);
                const float x[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
                for (int c = 0; c < GEMV_COLS; c++)
#pragma unroll
                    for (int j = 0; j < 8; j++) acc[m][c] = fmaf(x[j], wf[c][j], acc[m][c]);
            }
        }
    }

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int m = 0; m < M; m++)
#pragma unroll
        for (int c = 0; c < GEMV_COLS; c++) {
            float s = acc[m][c];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
            if (lane == 0) partial[warp][m * GEMV_COLS + c] = s;
        }
    __syncthreads();
    float* out = static_cast<float*>(p.out);
    for (int i = threadIdx.x; i < M * GEMV_COLS; i += blockDim.x) {
        const int m = i / GEMV_COLS, c = i % GEMV_COLS;
        if (m >= rows || n0 + c >= n) continue;
        float s = 0.f;
        for (int j = 0; j < warps; j++) s += partial[j][i];
        out[m * n + n0 + c] = s;
    }
}

// Tiles of M activation rows: COLS columns per block, U vectors per column in flight per thread; U shrinks as
// the M * COLS accumulators grow (registers). Mirrored in io.cohort.nn.cuda.Gemv (COLS, UNROLL).
#define COHORT_GEMV(T, t, M, COLS, U)                                                                        \
    extern "C" __global__ void __launch_bounds__(GEMV_MAX_THREADS) cohort_gemv_##t##_m##M(GemvArgs p) { \
        gemv<T, M, COLS, U>(p);                                                                          \
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
