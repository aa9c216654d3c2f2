// P2P all-reduce kernels for ranks in one process whose devices reach each other's memory (NVLink / PCIe
// P2P after cuCtxEnablePeerAccess, or several ranks on one device). Every rank launches the same kernel on
// its own stream; they meet through sequence-numbered flags written into each other's signal arrays.
//
// Data path: each rank first copies its input into its own registered staging buffer (stage[rank]), whose
// address every peer knows from setup, so user buffers need no registration. Staging is double-buffered by
// launch parity: a rank can only start launch k+2 (reusing launch k's buffers) after every rank entered
// launch k+1, which on each stream means launch k is complete; so no end-of-kernel barrier is needed.
//
// Barriers are per block: block b of every rank covers the same elements in every phase, so block b only
// waits for block b of its peers (the flag slot [b][peer] of the waiter's signal array).
//
// Reduction order is rank 0, 1, ..., n-1 in float on every rank, so all ranks produce identical bits.
//
// Programmatic dependent launch (CudaP2pBackend launches with it where cohort.cuda.p2p.programmatic-launch
// asks; off by default: no gain measured at tp 2 on one H200): a kernel may be scheduled while the one before
// it on the stream runs, and waits (pdl_grid_wait) before it reads anything. It never lets the next kernel in
// early: letting it in after the last barrier hung 4 ranks sharing one GPU once in three GPU test runs
// (2026-12-02), and gained nothing measurable. Without the attribute the wait is a no-op.
#include "common.cuh"

using namespace cohort;

constexpr int MAX_RANKS = 8;

struct ArArgs {
    const void* send;           // this rank's input (any alignment)
    void* recv;                 // this rank's output (any alignment; may equal send)
    void* stage[MAX_RANKS];     // staging of every rank for this launch's parity (16-byte aligned)
    void* mid[MAX_RANKS];       // two-shot: reduced slices of every rank for this launch's parity
    uint64_t* sig[MAX_RANKS];   // signal arrays of every rank: [block][rank] flags
    uint64_t count;             // elements
    uint64_t epoch;             // flag value of this launch's first barrier (the second uses epoch + 1)
    int64_t rank;
    int64_t nranks;
    float scale;                // applied to the result: 1 or 1/n (AVG)
    float pad;
    uint64_t timeout_ns;
    uint32_t* error;            // error word (mapped host memory)
};

// Publishes this block's arrival in every rank's signal array, then waits for every rank's block b.
__device__ __forceinline__ void block_barrier(const ArArgs& a, uint64_t epoch) {
    __syncthreads();
    const int t = threadIdx.x;
    if (t < a.nranks) {
        flag_store_release(a.sig[t] + blockIdx.x * MAX_RANKS + a.rank, epoch);
        wait_flag(a.sig[a.rank] + blockIdx.x * MAX_RANKS + t, epoch, a.timeout_ns, a.error, ERR_BARRIER_TIMEOUT,
                  (uint32_t)a.rank, (uint32_t)t);
    }
    __syncthreads();
}

// Copies unit u (one 16-byte vector's worth of elements, clipped at count) of src into dst; dst is aligned.
template <typename T>
__device__ __forceinline__ void copy_unit(const typename T::bits* src, typename T::bits* dst, uint64_t u,
                                          uint64_t count, bool src_aligned) {
    using V = Vec<T>;
    const uint64_t first = u * V::N;
    if (src_aligned && first + V::N <= count) {
        reinterpret_cast<uint4*>(dst)[u] = reinterpret_cast<const uint4*>(src)[u];
    } else {
        for (uint64_t i = first; i < first + V::N && i < count; i++) dst[i] = src[i];
    }
}

// Reduces unit u of every rank's buffer (all aligned, padded to whole units) in rank order.
template <typename T, int OP>
__device__ __forceinline__ void reduce_unit(void* const* bufs, int nranks, uint64_t u, float scale, Vec<T>& out) {
    using V = Vec<T>;
    V in[MAX_RANKS];
    // issue every peer's load before the first use: n reads over the links in flight at once
#pragma unroll
    for (int p = 0; p < MAX_RANKS; p++)
        if (p < nranks) in[p].raw = reinterpret_cast<const uint4*>(bufs[p])[u];
    float acc[V::N];
#pragma unroll
    for (int k = 0; k < V::N; k++) acc[k] = T::load(in[0].e[k]);
#pragma unroll
    for (int p = 1; p < MAX_RANKS; p++)
        if (p < nranks) {
#pragma unroll
            for (int k = 0; k < V::N; k++) acc[k] = combine<OP>(acc[k], T::load(in[p].e[k]));
        }
#pragma unroll
    for (int k = 0; k < V::N; k++) out.e[k] = T::store(scale == 1.0f ? acc[k] : acc[k] * scale);
}

// Stores unit u of v into dst (clipped at count; element-wise when dst is unaligned).
template <typename T>
__device__ __forceinline__ void store_unit(typename T::bits* dst, uint64_t u, uint64_t count, bool dst_aligned,
                                           const Vec<T>& v) {
    using V = Vec<T>;
    const uint64_t first = u * V::N;
    if (dst_aligned && first + V::N <= count) {
        reinterpret_cast<uint4*>(dst)[u] = v.raw;
    } else {
#pragma unroll
        for (int k = 0; k < V::N; k++)
            if (first + k < count) dst[first + k] = v.e[k];
    }
}

// Latency path: one barrier; every rank reads all n inputs and reduces the whole message.
template <typename T, int OP>
__device__ __forceinline__ void one_shot(const ArArgs& a) {
    using V = Vec<T>;
    using B = typename T::bits;
    const uint64_t units = (a.count + V::N - 1) / V::N;
    const uint64_t tid = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    const B* send = static_cast<const B*>(a.send);
    B* mine = static_cast<B*>(a.stage[a.rank]);
    const bool send_aligned = aligned16(send);
    pdl_grid_wait();
    for (uint64_t u = tid; u < units; u += stride) copy_unit<T>(send, mine, u, a.count, send_aligned);
    block_barrier(a, a.epoch);
    B* recv = static_cast<B*>(a.recv);
    const bool recv_aligned = aligned16(recv);
    for (uint64_t u = tid; u < units; u += stride) {
        V out;
        reduce_unit<T, OP>(a.stage, (int)a.nranks, u, a.scale, out);
        store_unit<T>(recv, u, a.count, recv_aligned, out);
    }
}

// Bandwidth path: reduce-scatter (rank r reduces slice r from every rank's staging into mid[r]), a barrier,
// then all-gather by pulling every rank's reduced slice. Each rank reads 2(n-1)/n of the message remotely.
template <typename T, int OP>
__device__ __forceinline__ void two_shot(const ArArgs& a) {
    using V = Vec<T>;
    using B = typename T::bits;
    const int n = (int)a.nranks;
    const uint64_t units = (a.count + V::N - 1) / V::N;
    const uint64_t slice = (units + n - 1) / n;  // units per slice; slice s = units [s*slice, (s+1)*slice)
    const uint64_t tid = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    const B* send = static_cast<const B*>(a.send);
    B* mine = static_cast<B*>(a.stage[a.rank]);
    const bool send_aligned = aligned16(send);
    pdl_grid_wait();
    // phase 0: block b stages, in every slice, exactly the units block b of each peer reduces next
    for (uint64_t j = tid; j < slice; j += stride)
        for (int s = 0; s < n; s++) {
            const uint64_t u = s * slice + j;
            if (u < units) copy_unit<T>(send, mine, u, a.count, send_aligned);
        }
    block_barrier(a, a.epoch);
    // phase 1: reduce own slice into mid[rank] (unit j of the slice at unit j of mid)
    void* slice_bufs[MAX_RANKS];
#pragma unroll
    for (int p = 0; p < MAX_RANKS; p++)
        if (p < n) slice_bufs[p] = static_cast<B*>(a.stage[p]) + a.rank * slice * V::N;
    B* my_mid = static_cast<B*>(a.mid[a.rank]);
    for (uint64_t j = tid; j < slice && a.rank * slice + j < units; j += stride) {
        V out;
        reduce_unit<T, OP>(slice_bufs, n, j, a.scale, out);
        reinterpret_cast<uint4*>(my_mid)[j] = out.raw;
    }
    block_barrier(a, a.epoch + 1);
    // phase 2: gather every rank's reduced slice into recv
    B* recv = static_cast<B*>(a.recv);
    const bool recv_aligned = aligned16(recv);
    for (uint64_t j = tid; j < slice; j += stride) {
        V in[MAX_RANKS];
#pragma unroll
        for (int s = 0; s < MAX_RANKS; s++)
            if (s < n && s * slice + j < units) in[s].raw = reinterpret_cast<const uint4*>(a.mid[s])[j];
#pragma unroll
        for (int s = 0; s < MAX_RANKS; s++)
            if (s < n && s * slice + j < units) store_unit<T>(recv, s * slice + j, a.count, recv_aligned, in[s]);
    }
}

// Graph launches. A CUDA graph fixes kernel arguments at capture, so a replayed launch cannot take its epoch
// and staging parity from the host. Each block keeps a launch counter of its own (launches[block], device
// memory of the rank, zeroed at setup): the c-th launch of block b uses epochs 2c+1 and 2c+2 (every launch
// takes two, one-shot or two-shot) and the staging of parity c & 1, and bumps the counter as the block
// finishes. Every rank runs the same sequence of graph launches with the same grids, so block b of every rank
// agrees on c, which keeps the eager path's argument: block b starts launch c+2 (reusing launch c's staging)
// only after block b of every peer entered launch c+1. Graph launches have signal arrays and staging of their
// own, so eager launches (host epochs) and graph launches never read each other's flags.
struct GraphArArgs {
    ArArgs a;                   // a.stage / a.mid: the parity-0 buffers; a.epoch unused
    void* stage1[MAX_RANKS];    // parity-1 staging of every rank
    void* mid1[MAX_RANKS];      // parity-1 two-shot slices of every rank
    uint64_t* launches;         // this rank's per-block launch counters
};

template <typename T, int OP, bool TWO_SHOT>
__device__ __forceinline__ void graph_all_reduce(const GraphArArgs& g) {
    __shared__ uint64_t launch;
    pdl_grid_wait();   // the counter was bumped by the previous all-reduce, which may still be finishing
    if (threadIdx.x == 0) launch = g.launches[blockIdx.x];
    __syncthreads();
    ArArgs a = g.a;
    if (launch & 1) {
#pragma unroll
        for (int p = 0; p < MAX_RANKS; p++) {
            a.stage[p] = g.stage1[p];
            a.mid[p] = g.mid1[p];
        }
    }
    a.epoch = 2 * launch + 1;
    if (TWO_SHOT) {
        two_shot<T, OP>(a);
    } else {
        one_shot<T, OP>(a);
    }
    __syncthreads();
    if (threadIdx.x == 0) g.launches[blockIdx.x] = launch + 1;
}

#define COHORT_AR(NAME, T, OP)                                                                                  \
    extern "C" __global__ void __launch_bounds__(512) cohort_ar_one_shot_##NAME(ArArgs a) { one_shot<T, OP>(a); } \
    extern "C" __global__ void __launch_bounds__(512) cohort_ar_two_shot_##NAME(ArArgs a) { two_shot<T, OP>(a); } \
    extern "C" __global__ void __launch_bounds__(512) cohort_ar_graph_one_shot_##NAME(GraphArArgs g) {         \
        graph_all_reduce<T, OP, false>(g);                                                                      \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(512) cohort_ar_graph_two_shot_##NAME(GraphArArgs g) {         \
        graph_all_reduce<T, OP, true>(g);                                                                       \
    }

COHORT_AR(sum_f32, F32, SUM)
COHORT_AR(max_f32, F32, MAX)
COHORT_AR(min_f32, F32, MIN)
COHORT_AR(sum_f16, F16, SUM)
COHORT_AR(max_f16, F16, MAX)
COHORT_AR(min_f16, F16, MIN)
COHORT_AR(sum_bf16, BF16, SUM)
COHORT_AR(max_bf16, BF16, MAX)
COHORT_AR(min_bf16, BF16, MIN)

// All-reduce fused with the residual add and the next RMSNorm (as the fused all-reduce kernels of TensorRT-LLM
// and FlashInfer): after a row-parallel GEMM, send holds this rank's partial sums [rows, cols] (f32). One-shot:
// block b stages rows b, b + grid, ... then meets block b of every peer, reduces those rows in rank order
// (0, 1, ..., n-1, so every rank gets the same bits), adds them into the residual (x += sum, replicated on every
// rank) and writes normed = x / sqrt(mean(x^2) + eps) * w. recv is not written: the sum lives on in x.
struct FusedTail {
    float* residual;            // [rows, cols] f32, in place
    const void* weight;         // [cols] norm weight, W's type
    float* normed;              // [rows, cols] f32
    int64_t cols;
    float eps;
    float pad;
};

struct FusedArArgs {
    GraphArArgs g;              // g.a for eager launches (epoch, parity staging from the host); all of it in graphs
    FusedTail f;
};

__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < warps ? partial[lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename W>
__device__ __forceinline__ void all_reduce_add_rmsnorm(const ArArgs& a, const FusedTail& f) {
    const int64_t cols = f.cols, rows = (int64_t)a.count / cols;
    const float* send = static_cast<const float*>(a.send);
    float* mine = static_cast<float*>(a.stage[a.rank]);
    pdl_grid_wait();
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
        for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) mine[r * cols + i] = send[r * cols + i];
    block_barrier(a, a.epoch);
    const auto* w = static_cast<const typename W::bits*>(f.weight);
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float* x = f.residual + r * cols;
        float ss = 0.f;
        for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
            float acc = static_cast<const float*>(a.stage[0])[r * cols + i];
            for (int p = 1; p < a.nranks; p++) acc += static_cast<const float*>(a.stage[p])[r * cols + i];
            const float v = x[i] + acc;
            x[i] = v;
            ss += v * v;
        }
        ss = block_sum(ss);
        const float inv = rsqrtf(ss / cols + f.eps);
        float* out = f.normed + r * cols;
        for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) out[i] = x[i] * inv * W::load(w[i]);
    }
}

// The graph form takes epoch and staging parity from the per-block launch counters, as graph_all_reduce does
// (one epoch pair per launch, like every graph launch), so it interleaves with the group's graph all-reduces.
template <typename W>
__device__ __forceinline__ void graph_all_reduce_add_rmsnorm(const FusedArArgs& p) {
    __shared__ uint64_t launch;
    pdl_grid_wait();
    if (threadIdx.x == 0) launch = p.g.launches[blockIdx.x];
    __syncthreads();
    ArArgs a = p.g.a;
    if (launch & 1) {
#pragma unroll
        for (int q = 0; q < MAX_RANKS; q++) a.stage[q] = p.g.stage1[q];
    }
    a.epoch = 2 * launch + 1;
    all_reduce_add_rmsnorm<W>(a, p.f);
    __syncthreads();
    if (threadIdx.x == 0) p.g.launches[blockIdx.x] = launch + 1;
}

#define COHORT_AR_NORM(NAME, W)                                                                                \
    extern "C" __global__ void __launch_bounds__(512) cohort_ar_add_rmsnorm_##NAME(FusedArArgs p) {             \
        all_reduce_add_rmsnorm<W>(p.g.a, p.f);                                                                  \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(512) cohort_ar_graph_add_rmsnorm_##NAME(FusedArArgs p) {       \
        graph_all_reduce_add_rmsnorm<W>(p);                                                                     \
    }

COHORT_AR_NORM(f32, F32)
COHORT_AR_NORM(f16, F16)
COHORT_AR_NORM(bf16, BF16)
