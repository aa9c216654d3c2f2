// Shared by Cohort's kernels: element types as raw bits, the reduce operators, 16-byte vectors, and the
// system-scope flag operations the cross-device barriers are built from.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

namespace cohort {

// Element types are handled as raw bits and widened to float for arithmetic; the narrowing conversion is
// round-to-nearest-even, as on the host (io.cohort.core.DType), so host references match bit for bit.
struct F32 {
    using bits = uint32_t;
    static __device__ __forceinline__ float load(bits b) { return __uint_as_float(b); }
    static __device__ __forceinline__ bits store(float f) { return __float_as_uint(f); }
};
struct F16 {
    using bits = uint16_t;
    static __device__ __forceinline__ float load(bits b) { return __half2float(__ushort_as_half(b)); }
    static __device__ __forceinline__ bits store(float f) { return __half_as_ushort(__float2half_rn(f)); }
};
struct BF16 {
    using bits = uint16_t;
    static __device__ __forceinline__ float load(bits b) { return __bfloat162float(__ushort_as_bfloat16(b)); }
    static __device__ __forceinline__ bits store(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }
};

// Programmatic dependent launch (Hopper and later; io.cohort.nn.cuda.NnKernels launches with it when
// cohort.nn.pdl=true). The first
// thing every kernel of the model modules does: wait until the kernel before it on the stream has completed and
// its writes are visible (a no-op when launched without the attribute), then let the next kernel be scheduled,
// so its launch overlaps this kernel's run instead of following its end. All of this kernel's blocks have been
// scheduled by the time the next one's blocks are, so the early blocks never take SMs this kernel needs.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// The wait half of pdl_wait alone, for the P2P all-reduces (which spin on each other): their staging copy reads
// what the kernel before them wrote, and they never let the next kernel in early (allreduce.cu says why).
__device__ __forceinline__ void pdl_grid_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

enum Op { SUM = 0, MAX = 1, MIN = 2 };

template <int OP>
__device__ __forceinline__ float combine(float a, float b) {
    if (OP == SUM) return a + b;
    if (OP == MAX) return fmaxf(a, b);
    return fminf(a, b);
}

// One 16-byte vector of elements: the unit every kernel loads and stores when addresses allow.
template <typename T>
union Vec {
    static constexpr int N = 16 / sizeof(typename T::bits);
    uint4 raw;
    typename T::bits e[N];
};

__device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

__device__ __forceinline__ uint64_t global_timer_ns() {
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

// Flags are 64-bit sequence numbers that only grow, so a barrier never needs a reset: a waiter is released
// by any value at or past the one it waits for.
__device__ __forceinline__ void flag_store_release(uint64_t* p, uint64_t v) {
    asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
__device__ __forceinline__ uint64_t flag_load_acquire(const uint64_t* p) {
    uint64_t v;
    asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

// Error word codes, decoded by io.cohort.cuda.KernelError: code | rank << 8 | peer << 16.
constexpr uint32_t ERR_WAIT_TIMEOUT = 1;
constexpr uint32_t ERR_BARRIER_TIMEOUT = 2;

__device__ __forceinline__ void report_error(uint32_t* error, uint32_t code, uint32_t rank, uint32_t peer) {
    if (error != nullptr) atomicCAS(error, 0u, code | (rank << 8) | (peer << 16));
}

// Spins until *flag >= value; false after timeout_ns (the error word is then set).
__device__ __forceinline__ bool wait_flag(const uint64_t* flag, uint64_t value, uint64_t timeout_ns, uint32_t* error,
                                          uint32_t code, uint32_t rank, uint32_t peer) {
    if (flag_load_acquire(flag) >= value) return true;
    uint64_t start = global_timer_ns();
    while (flag_load_acquire(flag) < value) {
        if (global_timer_ns() - start > timeout_ns) {
            report_error(error, code, rank, peer);
            return false;
        }
    }
    return true;
}

}  // namespace cohort
