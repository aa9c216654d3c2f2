// The P2P all-reduce's arguments and the pieces of it that other kernels reuse (allreduce.cu; gemv.cu's GEMV
// with the fused all-reduce + residual add + RMSNorm as its epilogue). io.cohort.cuda.p2p.CudaP2pBackend packs
// these structs.
#pragma once
#include "common.cuh"

namespace cohort {

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

// Publishes the arrival of this block, as block `slot` of the all-reduce, in every rank's signal array, then waits
// for every rank's block `slot`.
__device__ __forceinline__ void block_barrier(const ArArgs& a, uint64_t epoch, unsigned slot) {
    __syncthreads();
    const int t = threadIdx.x;
    if (t < a.nranks) {
        flag_store_release(a.sig[t] + slot * MAX_RANKS + a.rank, epoch);
        wait_flag(a.sig[a.rank] + slot * MAX_RANKS + t, epoch, a.timeout_ns, a.error, ERR_BARRIER_TIMEOUT,
                  (uint32_t)a.rank, (uint32_t)t);
    }
    __syncthreads();
}

__device__ __forceinline__ void block_barrier(const ArArgs& a, uint64_t epoch) {
    block_barrier(a, epoch, blockIdx.x);
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
    uint32_t mode;              // standalone kernels: FUSED_REGISTERS (see all_reduce_add_rmsnorm_reg) or 0
};

constexpr uint32_t FUSED_REGISTERS = 1;

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

// Block `block` of `blocks` once every rank's partials are in its staging (a.stage, this launch's parity): meets
// block `block` of every peer, then reduces rows block, block + blocks, ... into the residual and norms them.
template <typename W>
__device__ __forceinline__ void reduce_add_rmsnorm(const ArArgs& a, const FusedTail& f, unsigned block,
                                                   unsigned blocks) {
    const int64_t cols = f.cols, rows = (int64_t)a.count / cols;
    block_barrier(a, a.epoch, block);
    const auto* w = static_cast<const typename W::bits*>(f.weight);
    for (int64_t r = block; r < rows; r += blocks) {
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

// The register form of the one-row-per-block case (decode: grid = rows), for rows of at most AR_REG * blockDim
// columns. Everything that does not depend on the peers is loaded before the barrier, in one round of
// independent loads (norm weight before the wait for the kernel ahead, residual and partial after it), and the
// residual stays in registers for the norm; after the barrier only the peers' staged partials are read. Each
// thread keeps the columns, the order of the additions and the expressions of reduce_add_rmsnorm, so the bits are
// the same. Callers check ar_reg_fits, which is the same on every rank (same grid, block and shape).
constexpr int AR_REG = 8;

__device__ __forceinline__ bool ar_reg_fits(const ArArgs& a, const FusedTail& f) {
    return (f.mode & FUSED_REGISTERS) != 0 && f.cols <= (int64_t)AR_REG * blockDim.x
           && (int64_t)a.count / f.cols <= (int64_t)gridDim.x;
}

template <typename W>
__device__ __forceinline__ void ar_reg_weights(const FusedTail& f, float (&wv)[AR_REG]) {
    const auto* w = static_cast<const typename W::bits*>(f.weight);
#pragma unroll
    for (int k = 0; k < AR_REG; k++) {
        const int64_t i = threadIdx.x + (int64_t)k * blockDim.x;
        wv[k] = i < f.cols ? W::load(w[i]) : 0.f;
    }
}

// This block's row (if any) of the partial and the residual; after pdl_grid_wait.
__device__ __forceinline__ void ar_reg_inputs(const ArArgs& a, const FusedTail& f, float (&sv)[AR_REG],
                                              float (&xv)[AR_REG]) {
    const int64_t cols = f.cols, r = blockIdx.x;
    const bool has_row = r < (int64_t)a.count / cols;
    const float* send = static_cast<const float*>(a.send) + r * cols;
    const float* x = f.residual + r * cols;
#pragma unroll
    for (int k = 0; k < AR_REG; k++) {
        const int64_t i = threadIdx.x + (int64_t)k * blockDim.x;
        const bool in = has_row && i < cols;
        sv[k] = in ? send[i] : 0.f;
        xv[k] = in ? x[i] : 0.f;
    }
}

// Stages this rank's partial (stage: every rank's staging for this launch's parity), meets block b of every peer
// (epoch), reduces. The staging comes apart from a, so that a graph launch need not copy its arguments.
template <typename W>
__device__ __forceinline__ void ar_reg_reduce(const ArArgs& a, void* const* stage, uint64_t epoch,
                                              const FusedTail& f, const float (&sv)[AR_REG],
                                              const float (&xv)[AR_REG], const float (&wv)[AR_REG]) {
    const int64_t cols = f.cols, r = blockIdx.x;
    const bool has_row = r < (int64_t)a.count / cols;
    float* mine = static_cast<float*>(stage[a.rank]) + r * cols;
#pragma unroll
    for (int k = 0; k < AR_REG; k++) {
        const int64_t i = threadIdx.x + (int64_t)k * blockDim.x;
        if (has_row && i < cols) mine[i] = sv[k];
    }
    block_barrier(a, epoch, blockIdx.x);
    if (!has_row) return;   // uniform over the block, after the barrier its peers' blocks need
    float acc[AR_REG];
#pragma unroll
    for (int k = 0; k < AR_REG; k++) {
        const int64_t i = threadIdx.x + (int64_t)k * blockDim.x;
        acc[k] = i < cols ? __ldcg(static_cast<const float*>(stage[0]) + r * cols + i) : 0.f;
    }
#pragma unroll
    for (int p = 1; p < MAX_RANKS; p++) {
        if (p >= a.nranks) break;
#pragma unroll
        for (int k = 0; k < AR_REG; k++) {
            const int64_t i = threadIdx.x + (int64_t)k * blockDim.x;
            if (i < cols) acc[k] += __ldcg(static_cast<const float*>(stage[p]) + r * cols + i);
        }
    }
    float v[AR_REG];
    float ss = 0.f;
#pragma unroll
    for (int k = 0; k < AR_REG; k++) {
        const int64_t i = threadIdx.x + (int64_t)k * blockDim.x;
        v[k] = xv[k] + acc[k];
        if (i < cols) ss += v[k] * v[k];
    }
    ss = block_sum(ss);
    const float inv = rsqrtf(ss / cols + f.eps);
    float* x = f.residual + r * cols;
    float* out = f.normed + r * cols;
#pragma unroll
    for (int k = 0; k < AR_REG; k++) {
        const int64_t i = threadIdx.x + (int64_t)k * blockDim.x;
        if (i < cols) {
            x[i] = v[k];
            out[i] = v[k] * inv * wv[k];
        }
    }
}

template <typename W>
__device__ __forceinline__ void all_reduce_add_rmsnorm(const ArArgs& a, const FusedTail& f) {
    if (ar_reg_fits(a, f)) {
        float wv[AR_REG], sv[AR_REG], xv[AR_REG];
        ar_reg_weights<W>(f, wv);
        pdl_grid_wait();
        ar_reg_inputs(a, f, sv, xv);
        ar_reg_reduce<W>(a, a.stage, a.epoch, f, sv, xv, wv);
        return;
    }
    const int64_t cols = f.cols, rows = (int64_t)a.count / cols;
    const float* send = static_cast<const float*>(a.send);
    float* mine = static_cast<float*>(a.stage[a.rank]);
    pdl_grid_wait();
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
        for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) mine[r * cols + i] = send[r * cols + i];
    reduce_add_rmsnorm<W>(a, f, blockIdx.x, gridDim.x);
}

}  // namespace cohort
