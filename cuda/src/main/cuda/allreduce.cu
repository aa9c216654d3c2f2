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
#include "allreduce.cuh"

using namespace cohort;

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

// Eager launches (host epochs) may also say on the host when they are done: the last block to finish writes
// done_value into done_word, a pinned host word of the rank's completion event (CudaEvent#armForKernel), so the
// host sees the completion without an event record and a stream write behind the kernel (two driver calls per
// rank and call, and a stream operation the GPU runs after the kernel). done_word == nullptr: nothing written.
struct EagerArArgs {
    ArArgs a;
    uint64_t* done_word;        // mapped host memory, or nullptr
    uint64_t done_value;
    uint32_t* done_count;       // this rank's block ticket counter (device memory, 0 between launches)
};

// Every block's stores are made visible device-wide before it takes a ticket; the block that draws the last ticket
// (atomicInc wraps the counter back to 0 for the next launch) makes them visible to the host, then writes the word.
__device__ __forceinline__ void signal_done(const EagerArArgs& e) {
    if (e.done_word == nullptr) return;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        if (atomicInc(e.done_count, gridDim.x - 1) == gridDim.x - 1) {
            __threadfence_system();
            *reinterpret_cast<volatile uint64_t*>(e.done_word) = e.done_value;
        }
    }
}

#define COHORT_AR(NAME, T, OP)                                                                                  \
    extern "C" __global__ void __launch_bounds__(512) cohort_ar_one_shot_##NAME(EagerArArgs e) {               \
        one_shot<T, OP>(e.a);                                                                                   \
        signal_done(e);                                                                                         \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(512) cohort_ar_two_shot_##NAME(EagerArArgs e) {               \
        two_shot<T, OP>(e.a);                                                                                   \
        signal_done(e);                                                                                         \
    }                                                                                                           \
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

// The graph form takes epoch and staging parity from the per-block launch counters, as graph_all_reduce does
// (one epoch pair per launch, like every graph launch), so it interleaves with the group's graph all-reduces.
template <typename W>
__device__ __forceinline__ void graph_all_reduce_add_rmsnorm(const FusedArArgs& p) {
    __shared__ uint64_t launch;
    if (ar_reg_fits(p.g.a, p.f)) {   // the register form: the inputs are loaded while the counter is read
        float wv[AR_REG], sv[AR_REG], xv[AR_REG];
        ar_reg_weights<W>(p.f, wv);
        pdl_grid_wait();
        if (threadIdx.x == 0) launch = p.g.launches[blockIdx.x];
        ar_reg_inputs(p.g.a, p.f, sv, xv);
        __syncthreads();
        ar_reg_reduce<W>(p.g.a, (launch & 1) ? p.g.stage1 : p.g.a.stage, 2 * launch + 1, p.f, sv, xv, wv);
        __syncthreads();
        if (threadIdx.x == 0) p.g.launches[blockIdx.x] = launch + 1;
        return;
    }
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
