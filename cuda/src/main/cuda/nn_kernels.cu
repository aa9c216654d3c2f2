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
