// Kernels of the tensor-parallel model layers (io.cohort.nn.cuda.CudaTensorOps): RMSNorm, residual add + RMSNorm
// fused, rotary embeddings, SwiGLU (also over a fused gate|up output), residual add, vocab-parallel embedding gather, f32 -> f16/bf16 casts (GEMM inputs) and causal
// attention over a KV cache. Activations are f32; weights and tables are f32, f16 or bf16 (widened on load).
// GEMMs are cuBLAS's. Every kernel takes one NnArgs by value, so the host packs one struct per launch.
#include "common.cuh"

using namespace cohort;

struct NnArgs {
    const void* a;
    const void* b;
    const void* c;
    void* out;
    void* scratch;
    int64_t n;
    int rows, cols, heads, kv_heads, head_dim, start_pos, vocab_start, table_rows, max_seq;
    float eps;
    const int* pos;  // when set, the step's position is *pos (a step block the host fills before a graph
                     // replay), not start_pos: a captured decode step replays at any position
    void* d;         // extra outputs of the ops with more than one (the fused rotary + KV write: K and V caches)
    void* e;
};

__device__ __forceinline__ int start_of(const NnArgs& p) { return p.pos ? *p.pos : p.start_pos; }

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

// One block per row: out = x / sqrt(mean(x^2) + eps) * w.
template <typename W>
__device__ void rmsnorm(const NnArgs& p) {
    const float* x = static_cast<const float*>(p.a) + (int64_t)blockIdx.x * p.cols;
    const auto* w = static_cast<const typename W::bits*>(p.b);
    float* out = static_cast<float*>(p.out) + (int64_t)blockIdx.x * p.cols;
    float ss = 0.f;
    for (int i = threadIdx.x; i < p.cols; i += blockDim.x) ss += x[i] * x[i];
    ss = block_reduce<false>(ss);
    const float inv = rsqrtf(ss / p.cols + p.eps);
    for (int i = threadIdx.x; i < p.cols; i += blockDim.x) out[i] = x[i] * inv * W::load(w[i]);
}
extern "C" __global__ void cohort_nn_rmsnorm_f32(NnArgs p) { rmsnorm<F32>(p); }
extern "C" __global__ void cohort_nn_rmsnorm_f16(NnArgs p) { rmsnorm<F16>(p); }
extern "C" __global__ void cohort_nn_rmsnorm_bf16(NnArgs p) { rmsnorm<BF16>(p); }

// Fused residual add + RMSNorm, one block per row: x += delta (a, in place; b = delta), then out = x / sqrt(mean(x^2)
// + eps) * w (c). The same f32 operations in the same order as cohort_nn_add then cohort_nn_rmsnorm, one launch.
template <typename W>
__device__ void add_rmsnorm(const NnArgs& p) {
    float* x = const_cast<float*>(static_cast<const float*>(p.a)) + (int64_t)blockIdx.x * p.cols;
    const float* delta = static_cast<const float*>(p.b) + (int64_t)blockIdx.x * p.cols;
    const auto* w = static_cast<const typename W::bits*>(p.c);
    float* out = static_cast<float*>(p.out) + (int64_t)blockIdx.x * p.cols;
    float ss = 0.f;
    for (int i = threadIdx.x; i < p.cols; i += blockDim.x) {
        const float v = x[i] + delta[i];
        x[i] = v;
        ss += v * v;
    }
    ss = block_reduce<false>(ss);
    const float inv = rsqrtf(ss / p.cols + p.eps);
    for (int i = threadIdx.x; i < p.cols; i += blockDim.x) out[i] = x[i] * inv * W::load(w[i]);
}
extern "C" __global__ void cohort_nn_add_rmsnorm_f32(NnArgs p) { add_rmsnorm<F32>(p); }
extern "C" __global__ void cohort_nn_add_rmsnorm_f16(NnArgs p) { add_rmsnorm<F16>(p); }
extern "C" __global__ void cohort_nn_add_rmsnorm_bf16(NnArgs p) { add_rmsnorm<BF16>(p); }

// Rows of a (f32 [rows, cols]) into out at rows start.. (a KV cache write at the step's position).
extern "C" __global__ void cohort_nn_copy_rows_at(NnArgs p) {
    const float* src = static_cast<const float*>(p.a);
    float* dst = static_cast<float*>(p.out) + (int64_t)start_of(p) * p.cols;
    const int64_t total = (int64_t)p.rows * p.cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        dst[i] = src[i];
    }
}

// SwiGLU over a fused gate|up projection: a = [rows, 2 cols] (gate then up per row), out = [rows, cols].
extern "C" __global__ void cohort_nn_silu_mul_packed(NnArgs p) {
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
        base[i] = x1 * cs - x2 * sn;
        base[half + i] = x2 * cs + x1 * sn;
    }
}

extern "C" __global__ void cohort_nn_silu_mul(NnArgs p) {
    const float* g = static_cast<const float*>(p.a);
    const float* u = static_cast<const float*>(p.b);
    float* out = static_cast<float*>(p.out);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < p.n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = g[i];
        out[i] = v / (1.f + expf(-v)) * u[i];
    }
}

extern "C" __global__ void cohort_nn_add(NnArgs p) {
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
extern "C" __global__ void cohort_nn_embed_f32(NnArgs p) { embed<F32>(p); }
extern "C" __global__ void cohort_nn_embed_f16(NnArgs p) { embed<F16>(p); }
extern "C" __global__ void cohort_nn_embed_bf16(NnArgs p) { embed<BF16>(p); }

template <typename T>
__device__ void cast(const NnArgs& p) {
    const float* in = static_cast<const float*>(p.a);
    auto* out = static_cast<typename T::bits*>(p.out);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < p.n; i += (int64_t)gridDim.x * blockDim.x) {
        out[i] = T::store(in[i]);
    }
}
extern "C" __global__ void cohort_nn_cast_f16(NnArgs p) { cast<F16>(p); }
extern "C" __global__ void cohort_nn_cast_bf16(NnArgs p) { cast<BF16>(p); }

// One block per (query row, head). a = q [rows, heads*d], b = K cache, c = V cache ([max_seq, kv_heads*d]),
// scratch = scores [rows*heads, max_seq]. Row t sits at position start_pos + t and sees positions 0..that.
extern "C" __global__ void cohort_nn_attention(NnArgs p) {
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
                base[i] = x1 * cs - x2 * sn;
                base[half + i] = x2 * cs + x1 * sn;
            } else {
                const float* base = k + (int64_t)t * kv_cols + (int64_t)h * d;
                const float x1 = base[i], x2 = base[half + i];
                cache_row_k[(int64_t)h * d + i] = x1 * cs - x2 * sn;
                cache_row_k[(int64_t)h * d + half + i] = x2 * cs + x1 * sn;
            }
        } else {
            j -= q_pairs + k_pairs;
            vc[(int64_t)(start + t) * kv_cols + j] = v[(int64_t)t * kv_cols + j];
        }
    }
}

// Decode attention split over the KV length (flash-decoding) with grouped-query heads. Pass 1, one block per
// (query row t, KV head g, chunk c of ATTN_CHUNK positions): the group's query heads score the chunk's keys, each
// K and V row read once for all of them; the block writes per head the chunk's max m, sum l of exp(s - m) and
// acc = sum exp(s - m) v (unnormalized) to scratch [rows*heads, chunks, d + 2]. Chunks past the row's last
// position exit at once: the grid is sized by max_seq, so a graph captured at one position replays at any.
// Pass 2 (cohort_nn_attention_combine) merges the chunks. Limits (the host checks): group <= ATTN_MAX_GROUP,
// head_dim <= ATTN_MAX_D; blockDim = ATTN_THREADS.
constexpr int ATTN_CHUNK = 256, ATTN_MAX_GROUP = 16, ATTN_MAX_D = 256, ATTN_THREADS = 128;

extern "C" __global__ void __launch_bounds__(ATTN_THREADS) cohort_nn_attention_split(NnArgs p) {
    __shared__ float qs[ATTN_MAX_GROUP * ATTN_MAX_D];
    __shared__ float s[ATTN_MAX_GROUP][ATTN_CHUNK];
    const int chunks = (p.max_seq + ATTN_CHUNK - 1) / ATTN_CHUNK;
    const int c = blockIdx.x % chunks, tg = blockIdx.x / chunks;
    const int g = tg % p.kv_heads, t = tg / p.kv_heads;
    const int d = p.head_dim, group = p.heads / p.kv_heads, kv_cols = p.kv_heads * d;
    const int last = start_of(p) + t;
    const int from = c * ATTN_CHUNK;
    if (from > last) return;
    const int n = min(last - from + 1, ATTN_CHUNK);
    const float* q = static_cast<const float*>(p.a) + (int64_t)t * p.heads * d + (int64_t)g * group * d;
    const float* k = static_cast<const float*>(p.b) + (int64_t)g * d;
    const float* v = static_cast<const float*>(p.c) + (int64_t)g * d;
    const int stride = d + 2;
    float* part = static_cast<float*>(p.scratch) + ((int64_t)(t * p.heads + g * group) * chunks + c) * stride;
    const int64_t head_stride = (int64_t)chunks * stride;   // from head j of the group to head j + 1
    for (int i = threadIdx.x; i < group * d; i += blockDim.x) qs[i] = q[i];
    __syncthreads();
    const float scale = rsqrtf((float)d);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    // scores: one warp per key row, lanes across head_dim, every head of the group from the one K row
    for (int r = warp; r < n; r += warps) {
        const float* kr = k + (int64_t)(from + r) * kv_cols;
        float dot[ATTN_MAX_GROUP];
#pragma unroll
        for (int j = 0; j < ATTN_MAX_GROUP; j++) dot[j] = 0.f;
        for (int i = lane; i < d; i += 32) {
            const float kv = kr[i];
#pragma unroll
            for (int j = 0; j < ATTN_MAX_GROUP; j++) if (j < group) dot[j] += qs[j * d + i] * kv;
        }
#pragma unroll
        for (int j = 0; j < ATTN_MAX_GROUP; j++) {
            if (j < group) {
                float x = dot[j];
                for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
                if (lane == 0) s[j][r] = x * scale;
            }
        }
    }
    __syncthreads();
    // per head: the chunk's max and sum, one warp per head
    for (int j = warp; j < group; j += warps) {
        float mx = -INFINITY;
        for (int r = lane; r < n; r += 32) mx = fmaxf(mx, s[j][r]);
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        float sum = 0.f;
        for (int r = lane; r < n; r += 32) {
            const float e = expf(s[j][r] - mx);
            s[j][r] = e;
            sum += e;
        }
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        if (lane == 0) {
            part[j * head_stride] = mx;
            part[j * head_stride + 1] = sum;
        }
    }
    __syncthreads();
    // weighted V: threads across head_dim, each V element read once for every head of the group
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float acc[ATTN_MAX_GROUP];
#pragma unroll
        for (int j = 0; j < ATTN_MAX_GROUP; j++) acc[j] = 0.f;
        for (int r = 0; r < n; r++) {
            const float vv = v[(int64_t)(from + r) * kv_cols + i];
#pragma unroll
            for (int j = 0; j < ATTN_MAX_GROUP; j++) if (j < group) acc[j] += s[j][r] * vv;
        }
#pragma unroll
        for (int j = 0; j < ATTN_MAX_GROUP; j++) if (j < group) part[j * head_stride + 2 + i] = acc[j];
    }
}

// Pass 2 of the split attention, one block per (query row, head): M = max of the chunks' m, L = sum l_c e^(m_c - M),
// out = sum acc_c e^(m_c - M) / L over the chunks that hold positions of the row.
extern "C" __global__ void cohort_nn_attention_combine(NnArgs p) {
    const int t = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
    const int d = p.head_dim, stride = d + 2;
    const int chunks = (p.max_seq + ATTN_CHUNK - 1) / ATTN_CHUNK;
    const int used = (start_of(p) + t) / ATTN_CHUNK + 1;
    const float* part = static_cast<const float*>(p.scratch) + (int64_t)(t * p.heads + h) * chunks * stride;
    float* out = static_cast<float*>(p.out) + (int64_t)t * p.heads * d + (int64_t)h * d;
    float mx = -INFINITY;
    for (int c = 0; c < used; c++) mx = fmaxf(mx, part[c * stride]);
    float sum = 0.f;
    for (int c = 0; c < used; c++) sum += part[c * stride + 1] * expf(part[c * stride] - mx);
    const float inv = 1.f / sum;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float acc = 0.f;
        for (int c = 0; c < used; c++) acc += part[c * stride + 2 + i] * expf(part[c * stride] - mx);
        out[i] = acc * inv;
    }
}

// Prefill attention that never materializes the score matrix (flash-attention's online softmax, one pass): one
// block per (query row t, KV head g) walks the row's positions in chunks of ATTN_CHUNK, scores a chunk for every
// query head of the group into shared memory (each K and V row read once for the group), and folds it into a
// running max m, sum l and accumulator (acc rescaled by e^(m_old - m_new)); out = acc / l at the end. Scratch: none.
// Limits (the host checks): group <= ATTN_MAX_GROUP, head_dim <= ATTN_THREADS (one output element per thread).
extern "C" __global__ void __launch_bounds__(ATTN_THREADS) cohort_nn_attention_online(NnArgs p) {
    __shared__ float qs[ATTN_MAX_GROUP * ATTN_THREADS];
    __shared__ float s[ATTN_MAX_GROUP][ATTN_CHUNK];
    __shared__ float run_m[ATTN_MAX_GROUP], run_l[ATTN_MAX_GROUP], rescale[ATTN_MAX_GROUP];
    const int g = blockIdx.x % p.kv_heads, t = blockIdx.x / p.kv_heads;
    const int d = p.head_dim, group = p.heads / p.kv_heads, kv_cols = p.kv_heads * d;
    const int last = start_of(p) + t;
    const float* q = static_cast<const float*>(p.a) + (int64_t)t * p.heads * d + (int64_t)g * group * d;
    const float* k = static_cast<const float*>(p.b) + (int64_t)g * d;
    const float* v = static_cast<const float*>(p.c) + (int64_t)g * d;
    for (int i = threadIdx.x; i < group * d; i += blockDim.x) qs[i] = q[i];
    if (threadIdx.x < group) {
        run_m[threadIdx.x] = -INFINITY;
        run_l[threadIdx.x] = 0.f;
    }
    __syncthreads();
    const float scale = rsqrtf((float)d);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int i = threadIdx.x;   // this thread's output element (i < d)
    float acc[ATTN_MAX_GROUP];
#pragma unroll
    for (int j = 0; j < ATTN_MAX_GROUP; j++) acc[j] = 0.f;
    for (int from = 0; from <= last; from += ATTN_CHUNK) {
        const int n = min(last - from + 1, ATTN_CHUNK);
        for (int r = warp; r < n; r += warps) {
            const float* kr = k + (int64_t)(from + r) * kv_cols;
            float dot[ATTN_MAX_GROUP];
#pragma unroll
            for (int j = 0; j < ATTN_MAX_GROUP; j++) dot[j] = 0.f;
            for (int e = lane; e < d; e += 32) {
                const float kv = kr[e];
#pragma unroll
                for (int j = 0; j < ATTN_MAX_GROUP; j++) if (j < group) dot[j] += qs[j * d + e] * kv;
            }
#pragma unroll
            for (int j = 0; j < ATTN_MAX_GROUP; j++) {
                if (j < group) {
                    float x = dot[j];
                    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
                    if (lane == 0) s[j][r] = x * scale;
                }
            }
        }
        __syncthreads();
        for (int j = warp; j < group; j += warps) {
            float mx = -INFINITY;
            for (int r = lane; r < n; r += 32) mx = fmaxf(mx, s[j][r]);
            for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            const float m_new = fmaxf(run_m[j], mx);
            float sum = 0.f;
            for (int r = lane; r < n; r += 32) {
                const float e = expf(s[j][r] - m_new);
                s[j][r] = e;
                sum += e;
            }
            for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
            __syncwarp();
            if (lane == 0) {
                const float f = expf(run_m[j] - m_new);
                rescale[j] = f;
                run_l[j] = run_l[j] * f + sum;
                run_m[j] = m_new;
            }
        }
        __syncthreads();
        if (i < d) {
#pragma unroll
            for (int j = 0; j < ATTN_MAX_GROUP; j++) if (j < group) acc[j] *= rescale[j];
            for (int r = 0; r < n; r++) {
                const float vv = v[(int64_t)(from + r) * kv_cols + i];
#pragma unroll
                for (int j = 0; j < ATTN_MAX_GROUP; j++) if (j < group) acc[j] += s[j][r] * vv;
            }
        }
        __syncthreads();   // s is rewritten by the next chunk
    }
    if (i < d) {
        float* out = static_cast<float*>(p.out) + (int64_t)t * p.heads * d + (int64_t)g * group * d;
#pragma unroll
        for (int j = 0; j < ATTN_MAX_GROUP; j++) if (j < group) out[j * d + i] = acc[j] / run_l[j];
    }
}
