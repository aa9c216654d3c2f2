// Kernels of the tensor-parallel model layers (io.cohort.nn.cuda.CudaTensorOps): RMSNorm, residual add + RMSNorm
// fused, rotary embeddings, SwiGLU (also over a fused gate|up output), residual add, vocab-parallel embedding gather, f32 -> f16/bf16 casts (GEMM inputs) and causal
// attention over a KV cache (per head; flash-decoding split + combine; online prefill; and decode attention in one
// launch, cohort_nn_rotary_attention: rotary + KV write + split-K + its combine). Activations are f32; weights and
// tables are f32, f16 or bf16 (widened on load).
// GEMMs are cuBLAS's. Every kernel takes one NnArgs by value, so the host packs one struct per launch.
#include "common.cuh"
#include "nn_args.cuh"
#include <mma.h>

using namespace cohort;


__device__ __forceinline__ int start_of(const NnArgs& p) { return p.pos ? *p.pos : p.start_pos; }

// Rotate-half of one pair (x1 = x[i], x2 = x[half + i], cs, sn = the table row's [i], [half + i]): the low and the
// high result. Explicitly rounded products (no FMA contraction), so every rotary kernel gives the same bits (and
// the host's x1 * cs - x2 * sn).
__device__ __forceinline__ float rot_lo(float x1, float x2, float cs, float sn) {
    return __fsub_rn(__fmul_rn(x1, cs), __fmul_rn(x2, sn));
}
__device__ __forceinline__ float rot_hi(float x1, float x2, float cs, float sn) {
    return __fadd_rn(__fmul_rn(x2, cs), __fmul_rn(x1, sn));
}

// Sum (or max) over the block; every thread gets the result. blockDim.x must be a multiple of 32, <= 1024.
template <bool MAX>
__device__ float block_reduce(float v) {
    __shared__ float partial[32];
    for (int o = 16; o > 0; o >>= 1) {
        float other = __shfl_xor_sync(0xffffffffu, v, o);
        v = MAX ? fmaxf(v, other) : v + other;
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < warps ? partial[lane] : (MAX ? -INFINITY : 0.f);
    for (int o = 16; o > 0; o >>= 1) {
        float other = __shfl_xor_sync(0xffffffffu, v, o);
        v = MAX ? fmaxf(v, other) : v + other;
    }
    return v;
}

// The norms keep a row's values in registers between the sum of squares and the scaling, with every load of a
// thread issued at once (a decode step's norm is one row: latency, not bandwidth). Thread t takes elements
// t, t + blockDim, ... in that order, as the plain loop does, so the sums, hence the bits, are the same; rows
// longer than NORM_PER_THREAD * blockDim (hidden > 4096 at 256 threads) take the plain loop.
constexpr int NORM_PER_THREAD = 16;

// The second pass of both norms over a row held in registers: out = v * rsqrt(sum / n + eps) * w.
template <typename W>
__device__ __forceinline__ void scale_row(const float (&v)[NORM_PER_THREAD], float ss, int n, float eps,
                                          const typename W::bits* w, float* out) {
    const int t = threadIdx.x, b = blockDim.x;
    ss = block_reduce<false>(ss);
    const float inv = rsqrtf(ss / n + eps);
#pragma unroll
    for (int j = 0; j < NORM_PER_THREAD; j++)
        if (t + j * b < n) out[t + j * b] = v[j] * inv * W::load(w[t + j * b]);
}

// One block per row: out = x / sqrt(mean(x^2) + eps) * w.
template <typename W>
__device__ void rmsnorm(const NnArgs& p) {
    const float* x = static_cast<const float*>(p.a) + (int64_t)blockIdx.x * p.cols;
    const auto* w = static_cast<const typename W::bits*>(p.b);
    float* out = static_cast<float*>(p.out) + (int64_t)blockIdx.x * p.cols;
    const int n = p.cols, t = threadIdx.x, b = blockDim.x;
    float ss = 0.f;
    if (n <= NORM_PER_THREAD * b) {
        float v[NORM_PER_THREAD];
#pragma unroll
        for (int j = 0; j < NORM_PER_THREAD; j++) v[j] = t + j * b < n ? x[t + j * b] : 0.f;
#pragma unroll
        for (int j = 0; j < NORM_PER_THREAD; j++)
            if (t + j * b < n) ss += v[j] * v[j];
        scale_row<W>(v, ss, n, p.eps, w, out);
        return;
    }
    for (int i = t; i < n; i += b) ss += x[i] * x[i];
    ss = block_reduce<false>(ss);
    const float inv = rsqrtf(ss / n + p.eps);
    for (int i = t; i < n; i += b) out[i] = x[i] * inv * W::load(w[i]);
}
extern "C" __global__ void cohort_nn_rmsnorm_f32(NnArgs p) { pdl_wait(); rmsnorm<F32>(p); }
extern "C" __global__ void cohort_nn_rmsnorm_f16(NnArgs p) { pdl_wait(); rmsnorm<F16>(p); }
extern "C" __global__ void cohort_nn_rmsnorm_bf16(NnArgs p) { pdl_wait(); rmsnorm<BF16>(p); }

// Fused residual add + RMSNorm, one block per row: x += delta (a, in place; b = delta), then out = x / sqrt(mean(x^2)
// + eps) * w (c). The same f32 operations in the same order as cohort_nn_add then cohort_nn_rmsnorm, one launch.
template <typename W>
__device__ void add_rmsnorm(const NnArgs& p) {
    float* x = const_cast<float*>(static_cast<const float*>(p.a)) + (int64_t)blockIdx.x * p.cols;
    const float* delta = static_cast<const float*>(p.b) + (int64_t)blockIdx.x * p.cols;
    const auto* w = static_cast<const typename W::bits*>(p.c);
    float* out = static_cast<float*>(p.out) + (int64_t)blockIdx.x * p.cols;
    const int n = p.cols, t = threadIdx.x, b = blockDim.x;
    float ss = 0.f;
    if (n <= NORM_PER_THREAD * b) {   // registers between the passes (see NORM_PER_THREAD)
        float v[NORM_PER_THREAD];
#pragma unroll
        for (int j = 0; j < NORM_PER_THREAD; j++) v[j] = t + j * b < n ? x[t + j * b] + delta[t + j * b] : 0.f;
#pragma unroll
        for (int j = 0; j < NORM_PER_THREAD; j++)
            if (t + j * b < n) {
                x[t + j * b] = v[j];
                ss += v[j] * v[j];
            }
        scale_row<W>(v, ss, n, p.eps, w, out);
        return;
    }
    for (int i = t; i < n; i += b) {
        const float v = x[i] + delta[i];
        x[i] = v;
        ss += v * v;
    }
    ss = block_reduce<false>(ss);
    const float inv = rsqrtf(ss / n + p.eps);
    for (int i = t; i < n; i += b) out[i] = x[i] * inv * W::load(w[i]);
}
extern "C" __global__ void cohort_nn_add_rmsnorm_f32(NnArgs p) { pdl_wait(); add_rmsnorm<F32>(p); }
extern "C" __global__ void cohort_nn_add_rmsnorm_f16(NnArgs p) { pdl_wait(); add_rmsnorm<F16>(p); }
extern "C" __global__ void cohort_nn_add_rmsnorm_bf16(NnArgs p) { pdl_wait(); add_rmsnorm<BF16>(p); }

// Rows of a (f32 [rows, cols]) into out at rows start.. (a KV cache write at the step's position).
extern "C" __global__ void cohort_nn_copy_rows_at(NnArgs p) {
    pdl_wait();
    const float* src = static_cast<const float*>(p.a);
    float* dst = static_cast<float*>(p.out) + (int64_t)start_of(p) * p.cols;
    const int64_t total = (int64_t)p.rows * p.cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        dst[i] = src[i];
    }
}

// SwiGLU over a fused gate|up projection: a = [rows, 2 cols] (gate then up per row), out = [rows, cols].
extern "C" __global__ void cohort_nn_silu_mul_packed(NnArgs p) {
    pdl_wait();
    const float* gu = static_cast<const float*>(p.a);
    float* out = static_cast<float*>(p.out);
    const int64_t total = (int64_t)p.rows * p.cols;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / p.cols, i = idx % p.cols;
        const float g = gu[t * 2 * p.cols + i];
        out[idx] = g / (1.f + expf(-g)) * gu[t * 2 * p.cols + p.cols + i];
    }
}

// In place on out ([rows, heads * head_dim]); b is the [positions, head_dim] cos|sin table. Rotate-half pairs.
extern "C" __global__ void cohort_nn_rotary(NnArgs p) {
    pdl_wait();
    float* x = static_cast<float*>(p.out);
    const float* table = static_cast<const float*>(p.b);
    const int half = p.head_dim / 2;
    const int64_t total = (int64_t)p.rows * p.heads * half;
    const int start = start_of(p);
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
        const int i = (int)(idx % half);
        const int64_t th = idx / half;
        const int h = (int)(th % p.heads);
        const int t = (int)(th / p.heads);
        const float* row = table + (int64_t)(start + t) * p.head_dim;
        const float cs = row[i], sn = row[half + i];
        float* base = x + (int64_t)t * p.heads * p.head_dim + (int64_t)h * p.head_dim;
        const float x1 = base[i], x2 = base[half + i];
        base[i] = rot_lo(x1, x2, cs, sn);
        base[half + i] = rot_hi(x1, x2, cs, sn);
    }
}

extern "C" __global__ void cohort_nn_silu_mul(NnArgs p) {
    pdl_wait();
    const float* g = static_cast<const float*>(p.a);
    const float* u = static_cast<const float*>(p.b);
    float* out = static_cast<float*>(p.out);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < p.n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = g[i];
        out[i] = v / (1.f + expf(-v)) * u[i];
    }
}

extern "C" __global__ void cohort_nn_add(NnArgs p) {
    pdl_wait();
    const float* a = static_cast<const float*>(p.a);
    const float* b = static_cast<const float*>(p.b);
    float* out = static_cast<float*>(p.out);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < p.n; i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = a[i] + b[i];
    }
}

// out[t] = table[tokens[t] - vocab_start] when the token is in this shard, else zeros. b holds int32 tokens.
template <typename T>
__device__ void embed(const NnArgs& p) {
    const auto* table = static_cast<const typename T::bits*>(p.a);
    const int* tokens = static_cast<const int*>(p.b);
    float* out = static_cast<float*>(p.out);
    const int64_t total = (int64_t)p.rows * p.cols;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
        const int t = (int)(idx / p.cols), c = (int)(idx % p.cols);
        const int local = tokens[t] - p.vocab_start;
        out[idx] = local >= 0 && local < p.table_rows ? T::load(table[(int64_t)local * p.cols + c]) : 0.f;
    }
}
extern "C" __global__ void cohort_nn_embed_f32(NnArgs p) { pdl_wait(); embed<F32>(p); }
extern "C" __global__ void cohort_nn_embed_f16(NnArgs p) { pdl_wait(); embed<F16>(p); }
extern "C" __global__ void cohort_nn_embed_bf16(NnArgs p) { pdl_wait(); embed<BF16>(p); }

template <typename T>
__device__ void cast(const NnArgs& p) {
    const float* in = static_cast<const float*>(p.a);
    auto* out = static_cast<typename T::bits*>(p.out);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < p.n; i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = T::store(in[i]);
    }
}
extern "C" __global__ void cohort_nn_cast_f16(NnArgs p) { pdl_wait(); cast<F16>(p); }
extern "C" __global__ void cohort_nn_cast_bf16(NnArgs p) { pdl_wait(); cast<BF16>(p); }

// One block per (query row, head). a = q [rows, heads*d], b = K cache, c = V cache ([max_seq, kv_heads*d]),
// scratch = scores [rows*heads, max_seq]. Row t sits at position start_pos + t and sees positions 0..that.
extern "C" __global__ void cohort_nn_attention(NnArgs p) {
    pdl_wait();
    const int t = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
    const int d = p.head_dim;
    const int g = h / (p.heads / p.kv_heads);
    const int last = start_of(p) + t;
    const int kv_cols = p.kv_heads * d;
    const float* q = static_cast<const float*>(p.a) + (int64_t)t * p.heads * d + (int64_t)h * d;
    const float* k = static_cast<const float*>(p.b) + (int64_t)g * d;
    const float* v = static_cast<const float*>(p.c) + (int64_t)g * d;
    float* s = static_cast<float*>(p.scratch) + (int64_t)blockIdx.x * p.max_seq;
    float* out = static_cast<float*>(p.out) + (int64_t)t * p.heads * d + (int64_t)h * d;
    const float scale = rsqrtf((float)d);
    float mx = -INFINITY;
    for (int pos = threadIdx.x; pos <= last; pos += blockDim.x) {
        const float* kr = k + (int64_t)pos * kv_cols;
        float dot = 0.f;
        for (int i = 0; i < d; i++) dot += q[i] * kr[i];
        s[pos] = dot * scale;
        mx = fmaxf(mx, s[pos]);
    }
    mx = block_reduce<true>(mx);
    float sum = 0.f;
    for (int pos = threadIdx.x; pos <= last; pos += blockDim.x) {
        const float e = expf(s[pos] - mx);
        s[pos] = e;
        sum += e;
    }
    sum = block_reduce<false>(sum);  // its __syncthreads also publishes s[] to the whole block
    const float inv = 1.f / sum;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float acc = 0.f;
        for (int pos = 0; pos <= last; pos++) acc += s[pos] * v[(int64_t)pos * kv_cols + i];
        out[i] = acc * inv;
    }
}

// Rotary embedding + KV-cache write, fused (one launch per layer instead of rotary q, rotary k and two copies):
// out = q [rows, heads*d] rotated in place; a = k, c = v ([rows, kv_heads*d]); b = the cos|sin table; d, e = the
// K and V caches [max_seq, kv_heads*d]. Row t lands at cache row start + t, start read from *pos inside graphs.
// The rotation is cohort_nn_rotary's arithmetic, so the results equal the unfused ops bit for bit.
extern "C" __global__ void cohort_nn_rotary_kv_write(NnArgs p) {
    pdl_wait();
    float* q = static_cast<float*>(p.out);
    const float* k = static_cast<const float*>(p.a);
    const float* v = static_cast<const float*>(p.c);
    const float* table = static_cast<const float*>(p.b);
    float* kc = static_cast<float*>(p.d);
    float* vc = static_cast<float*>(p.e);
    const int d = p.head_dim, half = d / 2, kv_cols = p.kv_heads * d;
    const int64_t q_pairs = (int64_t)p.heads * half, k_pairs = (int64_t)p.kv_heads * half;
    const int64_t per_row = q_pairs + k_pairs + kv_cols;
    const int64_t total = (int64_t)p.rows * per_row;
    const int start = start_of(p);
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
        const int t = (int)(idx / per_row);
        int64_t j = idx % per_row;
        float* cache_row_k = kc + (int64_t)(start + t) * kv_cols;
        if (j < q_pairs + k_pairs) {
            const bool is_q = j < q_pairs;
            if (!is_q) j -= q_pairs;
            const int i = (int)(j % half), h = (int)(j / half);
            const float* row = table + (int64_t)(start + t) * d;
            const float cs = row[i], sn = row[half + i];
            if (is_q) {
                float* base = q + (int64_t)t * p.heads * d + (int64_t)h * d;
                const float x1 = base[i], x2 = base[half + i];
                base[i] = rot_lo(x1, x2, cs, sn);
                base[half + i] = rot_hi(x1, x2, cs, sn);
            } else {
                const float* base = k + (int64_t)t * kv_cols + (int64_t)h * d;
                const float x1 = base[i], x2 = base[half + i];
                cache_row_k[(int64_t)h * d + i] = rot_lo(x1, x2, cs, sn);
                cache_row_k[(int64_t)h * d + half + i] = rot_hi(x1, x2, cs, sn);
            }
        } else {
            j -= q_pairs + k_pairs;
            vc[(int64_t)(start + t) * kv_cols + j] = v[(int64_t)t * kv_cols + j];
        }
    }
}

// Causal grouped-query attention over the KV cache in tiles of ATTN_CHUNK positions (flash-attention's online
// softmax), the shared body of the split-K decode kernels and the online prefill kernel. One block serves one KV
// head g and a tile of query vectors: ATTN_TILE / group consecutive query rows times the group's heads, so each K
// and V row brought into shared memory serves all of them. Query vector qv is row t0 + qv / group, head
// g * group + qv % group; it sees positions 0 .. start + its row. Per KV tile: all threads copy K and V (float4;
// the next tile's loads are issued before this tile's math, so they are in flight meanwhile), scores
// s[qv][r] (lane = key row r, a warp per query vector), a warp per query vector folds them into its running max m,
// sum l and rescale factor, then acc = acc * rescale + s V with lanes across head_dim (float4 columns).
// Limits (the host checks): group <= ATTN_MAX_GROUP, head_dim <= ATTN_MAX_D and a multiple of 4, every matrix
// 16-byte aligned (the fused rotary attention: the caches and out; it reads q, k, v and the table by floats);
// blockDim = ATTN_THREADS.
constexpr int ATTN_CHUNK = 32, ATTN_MAX_GROUP = 16, ATTN_MAX_D = 128, ATTN_THREADS = 128, ATTN_TILE = 16;
constexpr int ATTN_WARPS = ATTN_THREADS / 32, ATTN_MAX_D4 = ATTN_MAX_D / 4;
constexpr int ATTN_LOADS = ATTN_CHUNK * ATTN_MAX_D4 / ATTN_THREADS;   // float4s of K (and of V) per thread per tile
constexpr int ATTN_OUTS = ATTN_TILE * ATTN_MAX_D4 / ATTN_THREADS;     // float4s of out per thread (in-block combine)
static_assert(ATTN_CHUNK == 32, "a key row per lane");
static_assert(ATTN_TILE % ATTN_WARPS == 0 && ATTN_TILE >= ATTN_MAX_GROUP, "query vectors per warp; one row fits");
static_assert(ATTN_CHUNK * ATTN_MAX_D4 % ATTN_THREADS == 0, "whole tile loads");
static_assert(ATTN_THREADS == 128, "the in-block combine replays cohort_nn_attention_combine's 128-thread sums");

struct KvTile {
    float4 k[ATTN_LOADS], v[ATTN_LOADS];
};

// Thread x's share of K/V rows from .. from + n - 1 (element u: float4 u * ATTN_THREADS + x of the row-major tile).
__device__ __forceinline__ void kv_fetch(KvTile& t, const float* k, const float* v, int from, int n, int d4,
                                         int kv_cols) {
#pragma unroll
    for (int u = 0; u < ATTN_LOADS; u++) {
        const int idx = u * ATTN_THREADS + threadIdx.x, r = idx / d4, c = idx - r * d4;
        if (r < n) {
            const int64_t off = (int64_t)(from + r) * kv_cols + 4 * c;
            t.k[u] = *reinterpret_cast<const float4*>(k + off);
            t.v[u] = *reinterpret_cast<const float4*>(v + off);
        }
    }
}

// kv_fetch of rows lo .. hi - 1 of the tile only (rows from + r); the tile's other registers are left as they are.
__device__ __forceinline__ void kv_fetch_range(KvTile& t, const float* k, const float* v, int from, int lo, int hi,
                                               int d4, int kv_cols) {
#pragma unroll
    for (int u = 0; u < ATTN_LOADS; u++) {
        const int idx = u * ATTN_THREADS + threadIdx.x, r = idx / d4, c = idx - r * d4;
        if (r >= lo && r < hi) {
            const int64_t off = (int64_t)(from + r) * kv_cols + 4 * c;
            t.k[u] = *reinterpret_cast<const float4*>(k + off);
            t.v[u] = *reinterpret_cast<const float4*>(v + off);
        }
    }
}

// K rows are padded by one float4 (stride d4 + 1): lanes reading 32 different rows hit different banks.
__device__ __forceinline__ void kv_store(const KvTile& t, float4* ks, float4* vs, int n, int d4) {
#pragma unroll
    for (int u = 0; u < ATTN_LOADS; u++) {
        const int idx = u * ATTN_THREADS + threadIdx.x, r = idx / d4, c = idx - r * d4;
        if (r < n) {
            ks[r * (d4 + 1) + c] = t.k[u];
            vs[r * d4 + c] = t.v[u];
        }
    }
}


// The fused rotary attention's new positions: rows from .. n - 1 of the tile (positions begin + r >= start, the
// step's own rows t = begin + r - start) come from the step's k (rotated here, rot_lo / rot_hi as
// cohort_nn_rotary_kv_write) and v, not from the caches, which the block owning row t (its row tile) writes
// (the same bits as cohort_nn_rotary_kv_write). No block reads these cache rows, so there is no race.
__device__ __forceinline__ void kv_fetch_new(KvTile& t, const NnArgs& p, int g, int begin, int from, int n, int start,
                                             int t0, int tq) {
    const int d = p.head_dim, d4 = d / 4, half = d / 2, kv_cols = p.kv_heads * d;
    const float* kin = static_cast<const float*>(p.d);
    const float* vin = static_cast<const float*>(p.e);
    const float* table = static_cast<const float*>(p.f);
#pragma unroll
    for (int u = 0; u < ATTN_LOADS; u++) {
        const int idx = u * ATTN_THREADS + threadIdx.x, r = idx / d4, c = idx - r * d4;
        if (r >= from && r < n) {
            const int pos = begin + r, row = pos - start;
            const float* kr = kin + (int64_t)row * kv_cols + (int64_t)g * d;
            const float* vr = vin + (int64_t)row * kv_cols + (int64_t)g * d + 4 * c;
            const float* tab = table + (int64_t)pos * d;
            float o[4];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int j = 4 * c + e;
                o[e] = j < half ? rot_lo(kr[j], kr[j + half], tab[j], tab[j + half])
                                : rot_hi(kr[j - half], kr[j], tab[j - half], tab[j]);
            }
            t.k[u] = make_float4(o[0], o[1], o[2], o[3]);
            t.v[u] = make_float4(vr[0], vr[1], vr[2], vr[3]);
            if (row >= t0 && row < t0 + tq) {   // this block's row tile owns the row: it writes the caches
                const int64_t off = (int64_t)pos * kv_cols + (int64_t)g * d + 4 * c;
                *reinterpret_cast<float4*>(static_cast<float*>(const_cast<void*>(p.b)) + off) = t.k[u];
                *reinterpret_cast<float4*>(static_cast<float*>(const_cast<void*>(p.c)) + off) = t.v[u];
            }
        }
    }
}

// The fused rotary attention's combine, in the split kernel: after its partials, each live chunk block takes a
// ticket (threadfence, then an atomicAdd on its (row tile, KV head) counter); the last of the tile's `live`
// chunks reads the others' partials (__ldcg: from L2, past this SM's L1), writes out and resets the counter, so
// the next launch (a graph replay) starts from zero. The arithmetic is cohort_nn_attention_combine's, sums in
// the same order (its 128 threads' strided partial sums, then block_reduce's trees, replayed by one warp per
// query vector), so out has the same bits as split + combine. ws, cm, cinv: the caller's shared memory, free now.
__device__ __forceinline__ void combine_last(const NnArgs& p, int g, int t0, int start, int qn, int live,
                                          const float* ml_base, float (*ws)[ATTN_CHUNK + 1], float* cm, float* cinv) {
    __shared__ bool last;
    const int group = p.heads / p.kv_heads, tq = ATTN_TILE / group, d4 = p.head_dim / 4;
    const int chunks = (p.max_seq + ATTN_CHUNK - 1) / ATTN_CHUNK;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __threadfence();   // this thread's partials reach L2 before the ticket
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned* counter = static_cast<unsigned*>(p.g) + (t0 / tq) * p.kv_heads + g;
        last = atomicAdd(counter, 1u) == (unsigned)live - 1;
        if (last) atomicExch(counter, 0u);   // every live chunk has arrived: none touches it again this launch
        __threadfence();
    }
    __syncthreads();
    if (!last) return;
    // per query vector (a warp each): M = max m_c; L = sum l_c e^(m_c - M) as the combine kernel's thread x sums
    // chunks x, x + 128, ... (virtual warp w = lanes' chunks + 32 w mod 128), each warp's xor tree, then the
    // second tree over the 4 warp sums, which comes to (P0 + P2) + (P1 + P3)
    for (int qv = warp; qv < qn; qv += ATTN_WARPS) {
        const int t = t0 + qv / group, used = (start + t) / ATTN_CHUNK + 1;
        const float* ml = ml_base + ((int64_t)t * p.heads + g * group + qv % group) * chunks * 2;
        float mx = -INFINITY;
        for (int c = lane; c < used; c += 32) mx = fmaxf(mx, __ldcg(ml + 2 * c));
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        float part[4];
#pragma unroll
        for (int w = 0; w < 4; w++) {
            float v = 0.f;
            for (int c = lane + 32 * w; c < used; c += ATTN_THREADS)
                v = __fmaf_rn(__ldcg(ml + 2 * c + 1), expf(__ldcg(ml + 2 * c) - mx), v);
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            part[w] = v;
        }
        const float sum = (part[0] + part[2]) + (part[1] + part[3]);
        if (lane == 0) {
            cm[qv] = mx;
            cinv[qv] = 1.f / sum;
        }
    }
    // out = sum_c acc_c w_c in chunk order, w_c = e^(m_c - M) / L, ATTN_CHUNK chunks' weights at a time in ws
    float4 o[ATTN_OUTS];
#pragma unroll
    for (int u = 0; u < ATTN_OUTS; u++) o[u] = make_float4(0.f, 0.f, 0.f, 0.f);
    const float4* acc = static_cast<const float4*>(p.scratch);
    for (int base = 0; base < live; base += ATTN_CHUNK) {
        __syncthreads();   // cm, cinv written; the previous weights read
        for (int qv = warp; qv < qn; qv += ATTN_WARPS) {
            const int t = t0 + qv / group, used = (start + t) / ATTN_CHUNK + 1, c = base + lane;
            const float* ml = ml_base + ((int64_t)t * p.heads + g * group + qv % group) * chunks * 2;
            ws[qv][lane] = c < used ? expf(__ldcg(ml + 2 * c) - cm[qv]) * cinv[qv] : 0.f;
        }
        __syncthreads();
#pragma unroll
        for (int u = 0; u < ATTN_OUTS; u++) {
            const int i = u * ATTN_THREADS + threadIdx.x, qv = i / d4, c4 = i - qv * d4;
            if (qv < qn) {
                const int t = t0 + qv / group, used = (start + t) / ATTN_CHUNK + 1;
                const int64_t row = (int64_t)t * p.heads + g * group + qv % group;
                const float4* a = acc + row * chunks * d4 + c4;
                const int cnt = min(used - base, ATTN_CHUNK);
                for (int c = 0; c < cnt; c++) {
                    const float4 x = __ldcg(a + (int64_t)(base + c) * d4);
                    const float w = ws[qv][c];
                    o[u].x = __fmaf_rn(w, x.x, o[u].x); o[u].y = __fmaf_rn(w, x.y, o[u].y);
                    o[u].z = __fmaf_rn(w, x.z, o[u].z); o[u].w = __fmaf_rn(w, x.w, o[u].w);
                }
            }
        }
    }
#pragma unroll
    for (int u = 0; u < ATTN_OUTS; u++) {
        const int i = u * ATTN_THREADS + threadIdx.x, qv = i / d4, c4 = i - qv * d4;
        if (qv < qn) {
            const int64_t row = (int64_t)(t0 + qv / group) * p.heads + g * group + qv % group;
            static_cast<float4*>(p.out)[row * d4 + c4] = o[u];
        }
    }
}

// SPLIT: positions begin .. begin + ATTN_CHUNK - 1 only, writing per query vector m, l and the unnormalized acc to
// scratch (chunk c = begin / ATTN_CHUNK); else all positions of each row, writing out = acc / l. FUSED (with SPLIT):
// the fused rotary attention (cohort_nn_rotary_attention): q rotated on its way into shared memory, the step's
// own positions from its k and v (kv_fetch_new), and the combine done here by the tile's last chunk to finish.
// start: the step's position (start_of(p), read once by the caller).
// tile, have: the first KV tile's rows 0 .. have - 1 (positions begin ..) are already in tile (the split kernel
// fetches the cache rows before the step's own ahead of its pdl_wait); attend fetches the rest.
template <bool SPLIT, bool FUSED = false>
__device__ void attend(const NnArgs& p, int g, int t0, int begin, int start, KvTile& tile, int have) {
    static_assert(SPLIT || !FUSED, "the fused kernel is a split one");
    __shared__ float4 qs[ATTN_TILE * ATTN_MAX_D4];
    __shared__ float4 ks[ATTN_CHUNK * (ATTN_MAX_D4 + 1)];
    __shared__ float4 vs[ATTN_CHUNK * ATTN_MAX_D4];
    __shared__ float s[ATTN_TILE][ATTN_CHUNK + 1];   // +1: the V pass reads two query vectors' rows per warp
    __shared__ float run_m[ATTN_TILE], run_l[ATTN_TILE], rescale[ATTN_TILE];
    const int d = p.head_dim, d4 = d / 4, group = p.heads / p.kv_heads, kv_cols = p.kv_heads * d;
    const int tq = ATTN_TILE / group;
    const int qn = min(tq, p.rows - t0) * group;                 // valid query vectors of this tile
    const int last_max = start + t0 + qn / group - 1;             // the tile's last row's last position
    const int stop = SPLIT ? min(last_max, begin + ATTN_CHUNK - 1) : last_max;
    const float* k = static_cast<const float*>(p.b) + (int64_t)g * d;
    const float* v = static_cast<const float*>(p.c) + (int64_t)g * d;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (FUSED) {   // one KV tile (SPLIT): rows before start from the caches, the step's rows from k and v
        const int n = stop - begin + 1, old = max(0, min(n, start - begin));
        kv_fetch(tile, k, v, begin, old, d4, kv_cols);
        kv_fetch_new(tile, p, g, begin, old, n, start, t0, tq);
    } else {
        kv_fetch_range(tile, k, v, begin, have, min(stop - begin + 1, ATTN_CHUNK), d4, kv_cols);
    }
    if (FUSED) {   // rotate-half on the way in (rot_lo / rot_hi: the bits cohort_nn_rotary_kv_write leaves in q)
        const float* qin = static_cast<const float*>(p.a);
        const float* table = static_cast<const float*>(p.f);
        float* qsf = reinterpret_cast<float*>(qs);
        const int half = d / 2;
        for (int i = threadIdx.x; i < qn * d; i += ATTN_THREADS) {
            const int qv = i / d, j = i - qv * d, t = t0 + qv / group;
            const float* qr = qin + ((int64_t)t * p.heads + g * group + qv % group) * d;
            const float* tab = table + (int64_t)(start + t) * d;
            qsf[i] = j < half ? rot_lo(qr[j], qr[j + half], tab[j], tab[j + half])
                              : rot_hi(qr[j - half], qr[j], tab[j - half], tab[j]);
        }
    } else {
        const float4* q = static_cast<const float4*>(p.a);
        for (int i = threadIdx.x; i < qn * d4; i += ATTN_THREADS) {
            const int qv = i / d4, c = i - qv * d4;
            qs[i] = q[((int64_t)(t0 + qv / group) * p.heads + g * group + qv % group) * d4 + c];
        }
    }
    if (threadIdx.x < ATTN_TILE) {
        run_m[threadIdx.x] = -INFINITY;
        run_l[threadIdx.x] = 0.f;
    }
    const float scale = rsqrtf((float)d);
    // V pass layout: csz lanes (a power of two >= d4) across the float4 columns, the warp's 32 / csz lane groups
    // and the warps across query vectors qr, qr + rs, ...
    int csz = 32;
    while (csz > 1 && csz / 2 >= d4) csz /= 2;
    const int c4 = lane & (csz - 1), rs = ATTN_WARPS * (32 / csz), qr = warp * (32 / csz) + lane / csz;
    float4 acc[ATTN_TILE / ATTN_WARPS];
#pragma unroll
    for (int u = 0; u < ATTN_TILE / ATTN_WARPS; u++) acc[u] = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int from = begin; from <= stop; from += ATTN_CHUNK) {
        const int n = min(stop - from + 1, ATTN_CHUNK);
        kv_store(tile, ks, vs, n, d4);
        __syncthreads();   // the tile (and on the first pass qs, run_m, run_l) visible to all
        if (from + ATTN_CHUNK <= stop) kv_fetch(tile, k, v, from + ATTN_CHUNK, min(stop - from - ATTN_CHUNK + 1, ATTN_CHUNK), d4, kv_cols);
        // scores: lane = key row, warp's query vectors warp, warp + ATTN_WARPS, ...; masked (causal, rows past n,
        // query vectors past qn) to -inf by selection, so garbage in unused shared memory never propagates
        float dot[ATTN_TILE / ATTN_WARPS];
#pragma unroll
        for (int u = 0; u < ATTN_TILE / ATTN_WARPS; u++) dot[u] = 0.f;
        for (int i = 0; i < d4; i++) {
            const float4 kf = ks[lane * (d4 + 1) + i];
#pragma unroll
            for (int u = 0; u < ATTN_TILE / ATTN_WARPS; u++) {
                const int qv = warp + ATTN_WARPS * u;
                if (qv < qn) {   // warp-uniform
                    const float4 qf = qs[qv * d4 + i];
                    // explicit roundings (here and below): the split, fused and online instantiations of
                    // this body give the same bits whatever the compiler would contract
                    float x = __fmul_rn(qf.x, kf.x);
                    x = __fmaf_rn(qf.y, kf.y, x);
                    x = __fmaf_rn(qf.z, kf.z, x);
                    x = __fmaf_rn(qf.w, kf.w, x);
                    dot[u] = __fadd_rn(dot[u], x);
                }
            }
        }
#pragma unroll
        for (int u = 0; u < ATTN_TILE / ATTN_WARPS; u++) {
            const int qv = warp + ATTN_WARPS * u;
            const int last = qv < qn ? start + t0 + qv / group : -1;
            s[qv][lane] = from + lane <= last ? dot[u] * scale : -INFINITY;
        }
        __syncthreads();
        // online softmax, a warp per query vector; base 0 while all its positions so far are masked (m = -inf),
        // so e^(s - base) and e^(m_old - base) are 0 instead of NaN
        for (int qv = warp; qv < ATTN_TILE; qv += ATTN_WARPS) {
            const float x = s[qv][lane];
            float mx = x;
            for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            const float m_old = run_m[qv], m_new = fmaxf(m_old, mx);
            const float base = m_new == -INFINITY ? 0.f : m_new;
            const float e = expf(x - base);
            s[qv][lane] = e;
            float sum = e;
            for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
            if (lane == 0) {   // every lane read run_m[qv] before the shuffles above
                const float f = expf(m_old - base);
                rescale[qv] = f;
                run_l[qv] = __fmaf_rn(run_l[qv], f, sum);
                run_m[qv] = m_new;
            }
        }
        __syncthreads();
        // weighted V over the tile's n valid rows (masked scores are 0; rows past n are never read)
        if (c4 < d4) {
#pragma unroll
            for (int u = 0; u < ATTN_TILE / ATTN_WARPS; u++) {
                const int qv = qr + rs * u;
                if (qv < ATTN_TILE) {
                    const float f = rescale[qv];
                    acc[u].x = __fmul_rn(acc[u].x, f); acc[u].y = __fmul_rn(acc[u].y, f);
                    acc[u].z = __fmul_rn(acc[u].z, f); acc[u].w = __fmul_rn(acc[u].w, f);
                }
            }
            for (int r = 0; r < n; r++) {
                const float4 vf = vs[r * d4 + c4];
#pragma unroll
                for (int u = 0; u < ATTN_TILE / ATTN_WARPS; u++) {
                    const int qv = qr + rs * u;
                    if (qv < ATTN_TILE) {
                        const float w = s[qv][r];
                        acc[u].x = __fmaf_rn(w, vf.x, acc[u].x); acc[u].y = __fmaf_rn(w, vf.y, acc[u].y);
                        acc[u].z = __fmaf_rn(w, vf.z, acc[u].z); acc[u].w = __fmaf_rn(w, vf.w, acc[u].w);
                    }
                }
            }
        }
        __syncthreads();   // ks, vs and s are rewritten by the next tile
    }
    const int chunks = (p.max_seq + ATTN_CHUNK - 1) / ATTN_CHUNK, c = begin / ATTN_CHUNK;
    // FUSED with one live chunk: out directly, as cohort_nn_attention_combine computes it for one chunk
    // (M = m, L = l e^0, w = e^0 / L), so the bits equal split + combine
    const bool direct = !SPLIT || (FUSED && last_max < ATTN_CHUNK);
    if (c4 < d4) {
#pragma unroll
        for (int u = 0; u < ATTN_TILE / ATTN_WARPS; u++) {
            const int qv = qr + rs * u;
            if (qv < qn) {
                const int64_t row = (int64_t)(t0 + qv / group) * p.heads + g * group + qv % group;   // (t, h)
                if (!direct) {
                    static_cast<float4*>(p.scratch)[(row * chunks + c) * d4 + c4] = acc[u];
                } else if (FUSED) {
                    const float m = run_m[qv], inv = 1.f / __fmaf_rn(run_l[qv], expf(m - m), 0.f);
                    const float w = expf(m - m) * inv;
                    static_cast<float4*>(p.out)[row * d4 + c4] = make_float4(
                            __fmaf_rn(w, acc[u].x, 0.f), __fmaf_rn(w, acc[u].y, 0.f),
                            __fmaf_rn(w, acc[u].z, 0.f), __fmaf_rn(w, acc[u].w, 0.f));
                } else {
                    const float inv = 1.f / run_l[qv];
                    static_cast<float4*>(p.out)[row * d4 + c4] =
                            make_float4(acc[u].x * inv, acc[u].y * inv, acc[u].z * inv, acc[u].w * inv);
                }
            }
        }
    }
    if (direct) return;
    float* ml_base = static_cast<float*>(p.scratch) + (int64_t)p.rows * p.heads * chunks * d;
    if (threadIdx.x < qn) {
        const int qv = threadIdx.x;
        const int64_t row = (int64_t)(t0 + qv / group) * p.heads + g * group + qv % group;
        float* ml = ml_base + (row * chunks + c) * 2;
        ml[0] = run_m[qv];
        ml[1] = run_l[qv];
    }
    if (FUSED) combine_last(p, g, t0, start, qn, last_max / ATTN_CHUNK + 1, ml_base, s, run_m, run_l);
}

// Decode attention split over the KV length (flash-decoding). Pass 1, one block per (tile of query rows, KV head g,
// chunk c of ATTN_CHUNK positions), block index (tile * kv_heads + g) * chunks + c. Scratch: acc
// [rows * heads, chunks, d] (unnormalized, relative to m), then m, l [rows * heads, chunks, 2]. Chunks past the
// tile's last position exit at once: the grid is sized by max_seq, so a graph captured at one position replays at
// any. A row's chunks past its own last position (a tile's earlier rows) are written but never read by pass 2.
// Before its pdl_wait a block reads only what kernels before the previous one wrote (they are complete once the
// previous kernel runs, which is when this one is scheduled): the step's position and the cache rows before it.
// So the first tile's old rows stream in while the kernel before (rotary + KV write of the step's rows, and q)
// finishes; the step's own rows and q come after the wait.
extern "C" __global__ void __launch_bounds__(ATTN_THREADS) cohort_nn_attention_split(NnArgs p) {
    const int chunks = (p.max_seq + ATTN_CHUNK - 1) / ATTN_CHUNK;
    const int c = blockIdx.x % chunks, tg = blockIdx.x / chunks;
    const int g = tg % p.kv_heads, t0 = tg / p.kv_heads * (ATTN_TILE / (p.heads / p.kv_heads));
    const int start = start_of(p);
    const int last_max = start + min(t0 + ATTN_TILE / (p.heads / p.kv_heads), p.rows) - 1;
    if (c * ATTN_CHUNK > last_max) return;   // uniform over the block, before any __syncthreads
    const int begin = c * ATTN_CHUNK, n = min(last_max - begin + 1, ATTN_CHUNK);
    const int old = max(0, min(n, start - begin));   // the tile's rows before the step's own
    KvTile tile;
    kv_fetch_range(tile, static_cast<const float*>(p.b) + (int64_t)g * p.head_dim,
                   static_cast<const float*>(p.c) + (int64_t)g * p.head_dim, begin, 0, old, p.head_dim / 4,
                   p.kv_heads * p.head_dim);
    pdl_wait();
    attend<true>(p, g, t0, begin, start, tile, old);
}

// Pass 2 of the split attention, one block per (query row, head): M = max of the chunks' m, L = sum l_c e^(m_c - M),
// out = sum acc_c e^(m_c - M) / L over the chunks that hold positions of the row (each has l_c > 0, m_c finite).
// The chunks' weights e^(m_c - M) / L are computed once into shared memory, 256 chunks at a time. Launched with
// 128 threads (combine_last replays its sums' order).
extern "C" __global__ void cohort_nn_attention_combine(NnArgs p) {
    pdl_wait();
    __shared__ float w[256];
    const int t = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
    const int d4 = p.head_dim / 4;
    const int chunks = (p.max_seq + ATTN_CHUNK - 1) / ATTN_CHUNK;
    const int used = (start_of(p) + t) / ATTN_CHUNK + 1;
    const int64_t row = (int64_t)t * p.heads + h;
    const float4* acc = static_cast<const float4*>(p.scratch) + row * chunks * d4;
    const float* ml = static_cast<const float*>(p.scratch) + (int64_t)p.rows * p.heads * chunks * p.head_dim
            + row * chunks * 2;
    float mx = -INFINITY;
    for (int c = threadIdx.x; c < used; c += blockDim.x) mx = fmaxf(mx, ml[2 * c]);
    mx = block_reduce<true>(mx);
    float sum = 0.f;
    for (int c = threadIdx.x; c < used; c += blockDim.x) sum = __fmaf_rn(ml[2 * c + 1], expf(ml[2 * c] - mx), sum);
    sum = block_reduce<false>(sum);
    const float inv = 1.f / sum;
    float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int base = 0; base < used; base += 256) {
        const int cnt = min(used - base, 256);
        __syncthreads();   // the previous weights are read
        for (int c = threadIdx.x; c < cnt; c += blockDim.x) w[c] = expf(ml[2 * (base + c)] - mx) * inv;
        __syncthreads();
        if ((int)threadIdx.x < d4) {
            for (int c = 0; c < cnt; c++) {
                const float4 a = acc[(int64_t)(base + c) * d4 + threadIdx.x];
                const float wc = w[c];
                o.x = __fmaf_rn(wc, a.x, o.x); o.y = __fmaf_rn(wc, a.y, o.y);   // explicit: the fused kernel's
                o.z = __fmaf_rn(wc, a.z, o.z); o.w = __fmaf_rn(wc, a.w, o.w);   // combine repeats these bits
            }
        }
    }
    if ((int)threadIdx.x < d4) static_cast<float4*>(p.out)[row * d4 + threadIdx.x] = o;
}

// Decode attention for one query row in one launch, warp-level flash-decoding (cohort_nn_attention_decode_d64 /
// _d128): one block of DEC_WARPS warps per query head h (KV head g = h / group). Warp w takes the chunks of 32
// positions w, w + DEC_WARPS, ... up to the step's position; lane l holds head_dim / 32 = DPL consecutive
// elements of q, of each key and value row it reads, and of its running output. Per chunk: every lane's partial
// dots with the 32 keys (loads in rounds of 8 rows), a reduce-scatter over the warp's shuffles (31 of them) that
// leaves lane r with key r's full dot, the online softmax update with warp max / sum, then acc += p_r v_r with
// p_r broadcast from lane r. The warps' (m, l, acc) are combined in shared memory at the end: no scratch, no
// second launch, no __syncthreads inside the loop. The grid is the query heads, whatever the position, so a
// captured step replays at any; the work per warp grows with the context, hence CudaTensorOps takes it for
// caches of up to DECODE_MAX_SEQ positions (then split-K). Limits (the host checks): rows == 1, head_dim 64 or
// 128, caches, q and out 16-byte aligned. Different rounding from cohort_nn_attention_split (tested against it
// within f32 rounding).
constexpr int DEC_WARPS = 8, DEC_ROUND = 8;

template <int DPL>
__device__ __forceinline__ void load_dpl(float (&x)[DPL], const float* p) {
    if (DPL == 4) {
        const float4 v = *reinterpret_cast<const float4*>(p);
        x[0] = v.x; x[1] = v.y; x[2] = v.z; x[3] = v.w;
    } else {
        const float2 v = *reinterpret_cast<const float2*>(p);
        x[0] = v.x; x[1] = v.y;
    }
}

// One level of the reduce-scatter (offset O, compile-time so part[] stays in registers).
template <int O>
__device__ __forceinline__ void scatter_level(float (&part)[32], int lane) {
    const bool upper = (lane & O) != 0;
#pragma unroll
    for (int i = 0; i < O; i++) {
        const float send = upper ? part[i] : part[i + O];
        const float keep = upper ? part[i + O] : part[i];
        part[i] = keep + __shfl_xor_sync(0xffffffffu, send, O);
    }
}

// One round of DEC_ROUND cache rows from position pos0 (this lane's DPL elements of each): the step's own row
// (ROTARY) from registers, rows past the step zeros, never read. Uniform over the warp.
template <int DPL, bool ROTARY>
__device__ __forceinline__ void fetch_round(float (&x)[DEC_ROUND][DPL], const float* cache, int pos0, int start,
                                            int kv_cols, const float (&step)[DPL]) {
#pragma unroll
    for (int j = 0; j < DEC_ROUND; j++) {
        const int pos = pos0 + j;
        if (ROTARY && pos == start) {
#pragma unroll
            for (int e = 0; e < DPL; e++) x[j][e] = step[e];
        } else if (pos <= start) {
            load_dpl<DPL>(x[j], cache + (int64_t)pos * kv_cols);
        } else {
#pragma unroll
            for (int e = 0; e < DPL; e++) x[j][e] = 0.f;
        }
    }
}

// ROTARY (cohort_nn_rotary_attention_decode_*): the step's rotary and KV write too, so the decode layer needs no
// cohort_nn_rotary_kv_write. q (a) and the step's k (d) and v (e) come unrotated from the qkv row, f is the
// cos|sin table. Lane l holds elements l * DPL .. of a row, so rotate-half's partner of each is in lane l ^ 16:
// one shuffle, then rot_lo / rot_hi (the bits of cohort_nn_rotary_kv_write). Every warp rotates q and the step's
// k itself and uses that k and v for the step's position, never its cache row, which only the block of each
// group's first head writes (warp 0): no block reads what another writes.
template <int DPL, bool ROTARY = false>
__device__ void attend_decode(const NnArgs& p) {
    __shared__ float wm[DEC_WARPS], wl[DEC_WARPS];
    __shared__ float wacc[DEC_WARPS][32 * DPL];
    constexpr int D = 32 * DPL;
    const int h = blockIdx.x, g = h / (p.heads / p.kv_heads), kv_cols = p.kv_heads * D;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const unsigned full = 0xffffffffu;
    const int start = start_of(p);   // the step's position: keys 0 .. start (written long before this kernel)
    const float* kb = static_cast<const float*>(p.b) + (int64_t)g * D + lane * DPL;
    const float* vb = static_cast<const float*>(p.c) + (int64_t)g * D + lane * DPL;
    pdl_wait();   // q, and the cache row at start, come from the kernel before
    float q[DPL], acc[DPL], knew[DPL], vnew[DPL];
    load_dpl<DPL>(q, static_cast<const float*>(p.a) + (int64_t)h * D + lane * DPL);
    if (ROTARY) {
        const float* kin = static_cast<const float*>(p.d) + (int64_t)g * D + lane * DPL;
        load_dpl<DPL>(knew, kin);
        load_dpl<DPL>(vnew, static_cast<const float*>(p.e) + (int64_t)g * D + lane * DPL);
        float tab[DPL];
        load_dpl<DPL>(tab, static_cast<const float*>(p.f) + (int64_t)start * D + lane * DPL);
        const bool lo = lane < 16;   // elements j < D / 2: the low halves of their pairs
#pragma unroll
        for (int e = 0; e < DPL; e++) {
            const float tp = __shfl_xor_sync(full, tab[e], 16);
            const float qp = __shfl_xor_sync(full, q[e], 16), kp = __shfl_xor_sync(full, knew[e], 16);
            // low j: rot_lo(x[j], x[j + half], cs = tab[j], sn = tab[j + half]); high j: rot_hi(x[j - half], x[j],
            // cs = tab[j - half], sn = tab[j])
            q[e] = lo ? rot_lo(q[e], qp, tab[e], tp) : rot_hi(qp, q[e], tp, tab[e]);
            knew[e] = lo ? rot_lo(knew[e], kp, tab[e], tp) : rot_hi(kp, knew[e], tp, tab[e]);
        }
        if (warp == 0 && h % (p.heads / p.kv_heads) == 0) {   // the group's first head writes the cache rows
            const int64_t off = (int64_t)start * kv_cols + (int64_t)g * D + lane * DPL;
#pragma unroll
            for (int e = 0; e < DPL; e++) {
                static_cast<float*>(const_cast<void*>(p.b))[off + e] = knew[e];
                static_cast<float*>(const_cast<void*>(p.c))[off + e] = vnew[e];
            }
        }
    }
#pragma unroll
    for (int e = 0; e < DPL; e++) acc[e] = 0.f;
    const float scale = rsqrtf((float)D);
    float m = -INFINITY, l = 0.f;
    for (int base = warp * 32; base <= start; base += DEC_WARPS * 32) {
        float part[32];
#pragma unroll
        for (int r0 = 0; r0 < 32; r0 += DEC_ROUND) {
            float k[DEC_ROUND][DPL];
            fetch_round<DPL, ROTARY>(k, kb, base + r0, start, kv_cols, knew);
#pragma unroll
            for (int j = 0; j < DEC_ROUND; j++) {
                float x = q[0] * k[j][0];
#pragma unroll
                for (int e = 1; e < DPL; e++) x = fmaf(q[e], k[j][e], x);
                part[r0 + j] = x;
            }
        }
        // reduce-scatter: at offset o a lane keeps the half of its 2o values its bit o selects and adds its
        // partner's copy of that half; after offset 1, lane r holds the sum over lanes of part[r]
        scatter_level<16>(part, lane);
        scatter_level<8>(part, lane);
        scatter_level<4>(part, lane);
        scatter_level<2>(part, lane);
        scatter_level<1>(part, lane);
        const float sc = base + lane <= start ? part[0] * scale : -INFINITY;
        float mx = sc;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(full, mx, o));
        const float m_new = fmaxf(m, mx);                // finite: key base <= start is valid
        const float pr = expf(sc - m_new), f = expf(m - m_new);
        float sum = pr;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(full, sum, o);
        l = fmaf(l, f, sum);
        m = m_new;
#pragma unroll
        for (int e = 0; e < DPL; e++) acc[e] *= f;
#pragma unroll
        for (int r0 = 0; r0 < 32; r0 += DEC_ROUND) {
            float v[DEC_ROUND][DPL];
            fetch_round<DPL, ROTARY>(v, vb, base + r0, start, kv_cols, vnew);
#pragma unroll
            for (int j = 0; j < DEC_ROUND; j++) {
                const float w = __shfl_sync(full, pr, r0 + j);   // 0 past start
#pragma unroll
                for (int e = 0; e < DPL; e++) acc[e] = fmaf(w, v[j][e], acc[e]);
            }
        }
    }
    if (lane == 0) {
        wm[warp] = m;   // -inf, 0 for a warp without chunks: weight 0 below
        wl[warp] = l;
    }
#pragma unroll
    for (int e = 0; e < DPL; e++) wacc[warp][lane * DPL + e] = acc[e];
    __syncthreads();
    if (threadIdx.x < D) {
        float mm = wm[0];
#pragma unroll
        for (int w = 1; w < DEC_WARPS; w++) mm = fmaxf(mm, wm[w]);
        float lsum = 0.f, o = 0.f;
#pragma unroll
        for (int w = 0; w < DEC_WARPS; w++) {
            const float f = expf(wm[w] - mm);
            lsum = fmaf(wl[w], f, lsum);
            o = fmaf(wacc[w][threadIdx.x], f, o);
        }
        static_cast<float*>(p.out)[(int64_t)h * D + threadIdx.x] = o / lsum;
    }
}

extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) cohort_nn_attention_decode_d64(NnArgs p) {
    attend_decode<2>(p);
}
extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) cohort_nn_attention_decode_d128(NnArgs p) {
    attend_decode<4>(p);
}
extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) cohort_nn_rotary_attention_decode_d64(NnArgs p) {
    attend_decode<2, true>(p);
}
extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) cohort_nn_rotary_attention_decode_d128(NnArgs p) {
    attend_decode<4, true>(p);
}

// Greedy sampling on the device (TensorOps.argmax): the largest of the cols floats of a (one logits row) and its
// first index, NaN never winning (every element NaN: index 0), as the host's scan (io.cohort.nn.ArgMax). One block of
// ARGMAX_THREADS: thread t scans t, t + blockDim, ... ascending (strict >, so its first maximum), then warp and
// block reductions keep the larger value, on ties the smaller index. out: {float bits of the max, int index}.
constexpr int ARGMAX_THREADS = 1024;

__device__ __forceinline__ void argmax_take(float& v, int& i, float v2, int i2) {
    if (v2 > v || (v2 == v && i2 < i)) {
        v = v2;
        i = i2;
    }
}

extern "C" __global__ void __launch_bounds__(ARGMAX_THREADS) cohort_nn_argmax(NnArgs p) {
    pdl_wait();
    __shared__ float wv[ARGMAX_THREADS / 32];
    __shared__ int wi[ARGMAX_THREADS / 32];
    const float* x = static_cast<const float*>(p.a);
    float best = -INFINITY;
    int idx = INT_MAX;
    for (int i = threadIdx.x; i < p.cols; i += blockDim.x) {
        const float v = x[i];
        if (v > best || (idx == INT_MAX && v == v)) {   // the first non-NaN, then strictly larger ones
            best = v;
            idx = i;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float v2 = __shfl_xor_sync(0xffffffffu, best, o);
        const int i2 = __shfl_xor_sync(0xffffffffu, idx, o);
        argmax_take(best, idx, v2, i2);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) {
        wv[warp] = best;
        wi[warp] = idx;
    }
    __syncthreads();
    if (warp == 0) {
        best = lane < warps ? wv[lane] : -INFINITY;
        idx = lane < warps ? wi[lane] : INT_MAX;
        for (int o = 16; o > 0; o >>= 1) {
            const float v2 = __shfl_xor_sync(0xffffffffu, best, o);
            const int i2 = __shfl_xor_sync(0xffffffffu, idx, o);
            argmax_take(best, idx, v2, i2);
        }
        if (lane == 0) {
            unsigned* out = static_cast<unsigned*>(p.out);
            out[0] = __float_as_uint(idx == INT_MAX ? x[0] : best);
            out[1] = idx == INT_MAX ? 0u : (unsigned)idx;
        }
    }
}

// Prefill attention that never materializes the score matrix (flash-attention): one block per (tile of query rows,
// KV head g), block index tile * kv_heads + g, walks positions 0 .. the tile's last in tiles of ATTN_CHUNK (attend
// above). Scratch: none.
extern "C" __global__ void __launch_bounds__(ATTN_THREADS) cohort_nn_attention_online(NnArgs p) {
    pdl_wait();
    const int g = blockIdx.x % p.kv_heads;
    const int t0 = blockIdx.x / p.kv_heads * (ATTN_TILE / (p.heads / p.kv_heads));
    KvTile tile;
    attend<false>(p, g, t0, 0, start_of(p), tile, 0);
}

// Decode attention in one launch: rotary of q and k, the KV-cache write of the step's k and v, split-K attention
// and its combine (cohort_nn_rotary_kv_write + cohort_nn_attention_split + cohort_nn_attention_combine, the same
// bits). a = q [rows, heads*d] unrotated (left so), d = k, e = v [rows, kv_heads*d] (the step's, unrotated),
// f = the cos|sin table, b, c = the K and V caches [max_seq, kv_heads*d], out [rows, heads*d], scratch as the
// split kernel's, g = the tickets [row tiles * kv_heads] (zero; each launch leaves them zero). Grid and block
// index as cohort_nn_attention_split. Every block rotates its query vectors as it loads them; the block of the
// chunk that holds a step row's position (for its row tile and KV head) takes that position's K and V from the
// step's k and v and writes them to the caches; no block reads those cache rows. The tile's last chunk to
// finish combines (combine_last); a tile with one live chunk writes out at once. The position is read once per
// block (in graphs it lives in host memory).
extern "C" __global__ void __launch_bounds__(ATTN_THREADS) cohort_nn_rotary_attention(NnArgs p) {
    pdl_wait();
    __shared__ int start_s;
    if (threadIdx.x == 0) start_s = start_of(p);
    __syncthreads();
    const int start = start_s;
    const int chunks = (p.max_seq + ATTN_CHUNK - 1) / ATTN_CHUNK;
    const int c = blockIdx.x % chunks, tg = blockIdx.x / chunks;
    const int g = tg % p.kv_heads, t0 = tg / p.kv_heads * (ATTN_TILE / (p.heads / p.kv_heads));
    const int last_max = start + min(t0 + ATTN_TILE / (p.heads / p.kv_heads), p.rows) - 1;
    if (c * ATTN_CHUNK > last_max) return;   // uniform over the block, before attend's __syncthreads
    KvTile tile;
    attend<true, true>(p, g, t0, c * ATTN_CHUNK, start, tile, 0);
}

// Prefill attention on tensor cores (flash-attention 2, causal, grouped-query), TF32 inputs with f32 accumulation
// (WMMA m16n16k8). One block of TC_THREADS (4 warps) per (tile of TC_QV = 64 query vectors, KV head g): query vector
// qv is row t0 + qv / group, head g * group + qv % group (the mapping of attend above), so a tile holds 64 / group
// query rows and every K and V row brought into shared memory serves all the group's heads. Warp w owns query
// vectors 16w .. 16w + 15 (the M of its WMMA tiles); qv sees positions 0 .. start + its row. Blocks run the longest
// tiles (the last rows) first. The block walks positions 0 .. its last row's position in KV tiles of TC_KV = 64:
//   S = Q K^T (Q's tf32 fragments stay in registers), stored to the warp's S buffer; online softmax in f32 by
//   the warp, two lanes per row (running max m, sum l, rescale f = 2^(m_old - m_new), scores in log2 units);
//   P (rounded to tf32) written back over S; O (accumulator fragments in registers) scaled by f row by row; then
//   O += P V. At the end O / l, staged through the S buffer, stored as float4s.
// The accumulator's element-to-row map is not documented, so the kernel reads it once: it loads an accumulator
// fragment from a 16 x 16 matrix whose every element is its row index (rows_of). K and V come in by cp.async into
// one buffer each, the next K tile loading during the softmax and P V, the next V tile during the next S, then
// each thread rounds the chunks it copied to tf32 in place (so fragments need no conversion). Rows past the tile's
// valid count are zero-filled (0 * garbage could be NaN); masked scores are -inf by selection, base 0 while a
// row has seen no position (e^-inf = 0, no NaN). Precision: q, k, v and p are rounded to tf32 (u = 2^-11), products
// accumulate in f32, softmax in f32; see CudaPrefillAttentionTest for the bound.
// Limits (the host checks, CudaTensorOps.prefillTcSupports): head_dim 64 or 128 (one kernel each), group <= TC_QV,
// every matrix 16-byte aligned; blockDim = TC_THREADS; dynamic shared memory 4 tc_smem_floats(head_dim) bytes
// (NnKernels.tcSharedBytes; over 48 KB, so the host raises the function's limit with cuFuncSetAttribute; too little
// and the kernel traps).
namespace wmma = nvcuda::wmma;
constexpr int TC_QV = 64, TC_KV = 64, TC_THREADS = 128, TC_WARPS = TC_THREADS / 32, TC_LDS = TC_KV + 4;
static_assert(TC_QV == 16 * TC_WARPS, "16 query vectors per warp");
using TcAcc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;

// Shared memory (floats): K tile [TC_KV][D + 4] (also Q's staging), V tile [TC_KV][D + 8], S [warps][16][TC_LDS],
// per-warp row factors [warps][16]. Pads: K and S rows 4 floats (mod 32 banks) for the col-major/row-major A and B
// loads, V rows 8 floats for the row-major B loads. Every fragment pointer is 32-byte aligned.
__host__ __device__ constexpr int tc_smem_floats(int d) {
    return TC_KV * (d + 4) + TC_KV * (d + 8) + TC_WARPS * 16 * TC_LDS + TC_WARPS * 16;
}

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

// K or V rows from .. from + TC_KV - 1 into dst (row stride LD), rows n.. zero-filled. Thread x copies float4
// column x % (D / 4) of rows x / (D / 4) + u * (TC_THREADS / (D / 4)); tc_round touches exactly those.
template <int D, int LD>
__device__ __forceinline__ void tc_load(float* dst, const float* src, int from, int n, int kv_cols) {
    constexpr int D4 = D / 4, RP = TC_THREADS / D4;
    const int r0 = threadIdx.x / D4, c = threadIdx.x % D4;
    const float* row0 = src + (int64_t)from * kv_cols + 4 * c;
    const float* g = row0 + (int64_t)r0 * kv_cols;
    float* s = dst + r0 * LD + 4 * c;
#pragma unroll
    for (int u = 0; u < TC_KV / RP; u++) {
        const bool ok = r0 + u * RP < n;
        cp_async16(s + u * RP * LD, ok ? g : row0, ok);
        g += (int64_t)RP * kv_cols;
    }
}

__device__ __forceinline__ float4 tf32x4(float4 x) {
    return make_float4(wmma::__float_to_tf32(x.x), wmma::__float_to_tf32(x.y), wmma::__float_to_tf32(x.z),
                       wmma::__float_to_tf32(x.w));
}

template <int D, int LD>
__device__ __forceinline__ void tc_round(float* dst) {
    constexpr int D4 = D / 4, RP = TC_THREADS / D4;
    float* s = dst + (threadIdx.x / D4) * LD + 4 * (threadIdx.x % D4);
#pragma unroll
    for (int u = 0; u < TC_KV / RP; u++) {
        float4* at = reinterpret_cast<float4*>(s + u * RP * LD);
        *at = tf32x4(*at);
    }
}

template <int D>
__device__ void attend_tc(const NnArgs& p) {
    constexpr int LDK = D + 4, LDV = D + 8, D4 = D / 4, KSTEPS = D / 8, ON = D / 16, SN = TC_KV / 16;
    static_assert(TC_THREADS % D4 == 0 && TC_KV % (TC_THREADS / D4) == 0 && ON % 4 == 0, "whole tiles");
    extern __shared__ __align__(128) float tc_smem[];
    {
        unsigned have;
        asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(have));
        if (have < tc_smem_floats(D) * sizeof(float)) __trap();
    }
    float* ks = tc_smem;
    float* vs = ks + TC_KV * LDK;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float* sw = vs + TC_KV * LDV + warp * 16 * TC_LDS;                 // this warp's S / P / staging
    float* fw = vs + TC_KV * LDV + TC_WARPS * 16 * TC_LDS + warp * 16;   // this warp's per-row factors
    const int group = p.heads / p.kv_heads, tq = TC_QV / group, kv_cols = p.kv_heads * D;
    const int tiles = (p.rows + tq - 1) / tq;
    const int g = blockIdx.x % p.kv_heads, t0 = (tiles - 1 - (int)(blockIdx.x / p.kv_heads)) * tq;
    const int start = start_of(p);
    const int qn = min(tq, p.rows - t0) * group;           // valid query vectors of this tile
    const int stop = start + t0 + qn / group - 1;          // the tile's last row's last position
    const float* k = static_cast<const float*>(p.b) + (int64_t)g * D;
    const float* v = static_cast<const float*>(p.c) + (int64_t)g * D;

    // Q tile (rounded to tf32, zeros past qn) staged in the K buffer; the row-index matrix in the S buffer
    const float4* q = static_cast<const float4*>(p.a);
    for (int i = threadIdx.x; i < TC_QV * D4; i += TC_THREADS) {
        const int qv = i / D4, c = i - qv * D4;
        float4 x = make_float4(0.f, 0.f, 0.f, 0.f);
        if (qv < qn) x = q[((int64_t)(t0 + qv / group) * p.heads + g * group + qv % group) * D4 + c];
        reinterpret_cast<float4*>(ks + qv * LDK)[c] = tf32x4(x);
    }
    for (int i = lane; i < 16 * 16; i += 32) sw[(i / 16) * TC_LDS + i % 16] = (float)(i / 16);
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> qa[KSTEPS];
#pragma unroll
    for (int kk = 0; kk < KSTEPS; kk++) wmma::load_matrix_sync(qa[kk], ks + warp * 16 * LDK + kk * 8, LDK);
    int rows_of[TcAcc::num_elements];
    {
        TcAcc rm;
        wmma::load_matrix_sync(rm, sw, TC_LDS, wmma::mem_row_major);
#pragma unroll
        for (int i = 0; i < TcAcc::num_elements; i++) rows_of[i] = (int)rm.x[i];
    }
    TcAcc o[ON];
#pragma unroll
    for (int nn = 0; nn < ON; nn++) wmma::fill_fragment(o[nn], 0.f);
    __syncthreads();   // Q is in registers: the K buffer is free

    tc_load<D, LDK>(ks, k, 0, min(stop + 1, TC_KV), kv_cols);
    cp_async_commit();
    tc_load<D, LDV>(vs, v, 0, min(stop + 1, TC_KV), kv_cols);
    cp_async_commit();
    // softmax layout: lane's row r (query vector warp * 16 + r), columns half * 32 .. + 31 visited from a rotated
    // start so the 32 lanes hit 32 different banks
    const int r = lane & 15, half = lane >> 4, rot = r + 16 * half;
    const int qv = warp * 16 + r;
    const int last = qv < qn ? start + t0 + qv / group : -1;
    const float scale = rsqrtf((float)D) * 1.4426950408889634f;   // scores in log2 units: e^x = 2^(x log2 e)
    float m = -INFINITY, l = 0.f;
    const int ntiles = stop / TC_KV + 1;
    for (int j = 0; j < ntiles; j++) {
        const int from = j * TC_KV;
        const bool more = j + 1 < ntiles;
        const int n_next = min(stop - from - TC_KV + 1, TC_KV);
        cp_async_wait<1>();   // K tile j (V tile j may still be in flight)
        tc_round<D, LDK>(ks);
        __syncthreads();
        {
            TcAcc s[SN];
#pragma unroll
            for (int nn = 0; nn < SN; nn++) wmma::fill_fragment(s[nn], 0.f);
#pragma unroll
            for (int kk = 0; kk < KSTEPS; kk++) {
#pragma unroll
                for (int nn = 0; nn < SN; nn++) {
                    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> kb;
                    wmma::load_matrix_sync(kb, ks + nn * 16 * LDK + kk * 8, LDK);
                    wmma::mma_sync(s[nn], qa[kk], kb, s[nn]);
                }
            }
#pragma unroll
            for (int nn = 0; nn < SN; nn++) wmma::store_matrix_sync(sw + nn * 16, s[nn], TC_LDS, wmma::mem_row_major);
        }
        __syncthreads();   // every warp is done with the K buffer (and its S stores are visible to its lanes)
        if (more) tc_load<D, LDK>(ks, k, from + TC_KV, n_next, kv_cols);
        cp_async_commit();   // possibly empty: one group per half-iteration keeps wait<1> counting right
        {
            float mx = -INFINITY;
#pragma unroll
            for (int jj = 0; jj < 32; jj++) {
                const int c = half * 32 + ((jj + rot) & 31);
                mx = fmaxf(mx, from + c <= last ? sw[r * TC_LDS + c] * scale : -INFINITY);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
            const float m_new = fmaxf(m, mx), base = m_new == -INFINITY ? 0.f : m_new;
            float sum = 0.f;
#pragma unroll
            for (int jj = 0; jj < 32; jj++) {
                const int c = half * 32 + ((jj + rot) & 31);
                const float x = from + c <= last ? sw[r * TC_LDS + c] * scale : -INFINITY;
                const float e = wmma::__float_to_tf32(exp2f(x - base));   // P as the tensor cores see it
                sw[r * TC_LDS + c] = e;
                sum += e;
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 16);
            const float f = exp2f(m - base);
            l = l * f + sum;
            m = m_new;
            if (half == 0) fw[r] = f;
        }
        __syncwarp();
#pragma unroll
        for (int i = 0; i < TcAcc::num_elements; i++) {
            const float f = fw[rows_of[i]];
#pragma unroll
            for (int nn = 0; nn < ON; nn++) o[nn].x[i] *= f;
        }
        cp_async_wait<1>();   // V tile j (K tile j + 1 may still be in flight)
        tc_round<D, LDV>(vs);
        __syncthreads();      // V visible to all, and P to the warp's lanes
#pragma unroll 2
        for (int kk = 0; kk < TC_KV / 8; kk++) {
            wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> pa;
            wmma::load_matrix_sync(pa, sw + kk * 8, TC_LDS);
#pragma unroll
            for (int nn = 0; nn < ON; nn++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> vb;
                wmma::load_matrix_sync(vb, vs + kk * 8 * LDV + nn * 16, LDV);
                wmma::mma_sync(o[nn], pa, vb, o[nn]);
            }
        }
        __syncthreads();   // every warp is done with the V buffer, its P and its factors
        if (more) tc_load<D, LDV>(vs, v, from + TC_KV, n_next, kv_cols);
        cp_async_commit();
    }
    cp_async_wait<0>();   // nothing is pending (the last groups are empty); leave no copy behind

    // out = O / l (l > 0 for every valid query vector: it sees position 0), 64 columns at a time through sw
    if (half == 0) fw[r] = l > 0.f ? 1.f / l : 0.f;
    __syncwarp();
#pragma unroll
    for (int i = 0; i < TcAcc::num_elements; i++) {
        const float f = fw[rows_of[i]];
#pragma unroll
        for (int nn = 0; nn < ON; nn++) o[nn].x[i] *= f;
    }
    float4* out = static_cast<float4*>(p.out);
#pragma unroll
    for (int c0 = 0; c0 < ON; c0 += 4) {
#pragma unroll
        for (int nn = 0; nn < 4; nn++) wmma::store_matrix_sync(sw + nn * 16, o[c0 + nn], TC_LDS, wmma::mem_row_major);
        __syncwarp();
        for (int i = lane; i < 16 * 16; i += 32) {   // 16 rows x 16 float4s
            const int rr = i / 16, c4 = i % 16, qv2 = warp * 16 + rr;
            if (qv2 < qn) {
                const int64_t row = (int64_t)(t0 + qv2 / group) * p.heads + g * group + qv2 % group;   // (t, h)
                out[row * D4 + c0 * 4 + c4] = reinterpret_cast<const float4*>(sw + rr * TC_LDS)[c4];
            }
        }
        __syncwarp();
    }
}

extern "C" __global__ void __launch_bounds__(TC_THREADS) cohort_nn_attention_prefill_tc64(NnArgs p) { pdl_wait(); attend_tc<64>(p); }
extern "C" __global__ void __launch_bounds__(TC_THREADS) cohort_nn_attention_prefill_tc128(NnArgs p) { pdl_wait(); attend_tc<128>(p); }
