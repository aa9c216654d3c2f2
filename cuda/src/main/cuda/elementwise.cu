// Element-wise kernels behind DeviceStream.reduce / scale and the flag fallbacks of writeValue / waitValue.
// Grid-stride loops over 16-byte vectors when every pointer is 16-byte aligned, element by element otherwise.
#include "common.cuh"

using namespace cohort;

// Arguments travel as one struct by value, so the host packs a single long[] and launches allocate nothing.
struct ElemArgs {
    const void* a;
    const void* b;
    void* dst;
    uint64_t count;
    float factor;
};

template <typename T, int OP>
__device__ __forceinline__ void reduce_body(const ElemArgs& args) {
    using V = Vec<T>;
    const auto* a = static_cast<const typename T::bits*>(args.a);
    const auto* b = static_cast<const typename T::bits*>(args.b);
    auto* d = static_cast<typename T::bits*>(args.dst);
    const uint64_t n = args.count;
    const uint64_t tid = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    uint64_t done = 0;
    if (aligned16(a) && aligned16(b) && aligned16(d)) {
        const uint64_t nv = n / V::N;
        // dst may alias a or b: each vector is read completely before it is written, by the same thread
        for (uint64_t i = tid; i < nv; i += stride) {
            V va, vb, vd;
            va.raw = reinterpret_cast<const uint4*>(a)[i];
            vb.raw = reinterpret_cast<const uint4*>(b)[i];
#pragma unroll
            for (int k = 0; k < V::N; k++) vd.e[k] = T::store(combine<OP>(T::load(va.e[k]), T::load(vb.e[k])));
            reinterpret_cast<uint4*>(d)[i] = vd.raw;
        }
        done = nv * V::N;
    }
    for (uint64_t i = done + tid; i < n; i += stride) d[i] = T::store(combine<OP>(T::load(a[i]), T::load(b[i])));
}

template <typename T>
__device__ __forceinline__ void scale_body(const ElemArgs& args) {
    using V = Vec<T>;
    auto* d = static_cast<typename T::bits*>(args.dst);
    const uint64_t n = args.count;
    const float f = args.factor;
    const uint64_t tid = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x;
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    uint64_t done = 0;
    if (aligned16(d)) {
        const uint64_t nv = n / V::N;
        for (uint64_t i = tid; i < nv; i += stride) {
            V v;
            v.raw = reinterpret_cast<const uint4*>(d)[i];
#pragma unroll
            for (int k = 0; k < V::N; k++) v.e[k] = T::store(T::load(v.e[k]) * f);
            reinterpret_cast<uint4*>(d)[i] = v.raw;
        }
        done = nv * V::N;
    }
    for (uint64_t i = done + tid; i < n; i += stride) d[i] = T::store(T::load(d[i]) * f);
}

#define COHORT_REDUCE(NAME, T, OP) \
    extern "C" __global__ void __launch_bounds__(512) cohort_reduce_##NAME(ElemArgs args) { reduce_body<T, OP>(args); }

COHORT_REDUCE(sum_f32, F32, SUM)
COHORT_REDUCE(max_f32, F32, MAX)
COHORT_REDUCE(min_f32, F32, MIN)
COHORT_REDUCE(sum_f16, F16, SUM)
COHORT_REDUCE(max_f16, F16, MAX)
COHORT_REDUCE(min_f16, F16, MIN)
COHORT_REDUCE(sum_bf16, BF16, SUM)
COHORT_REDUCE(max_bf16, BF16, MAX)
COHORT_REDUCE(min_bf16, BF16, MIN)

extern "C" __global__ void __launch_bounds__(512) cohort_scale_f32(ElemArgs args) { scale_body<F32>(args); }
extern "C" __global__ void __launch_bounds__(512) cohort_scale_f16(ElemArgs args) { scale_body<F16>(args); }
extern "C" __global__ void __launch_bounds__(512) cohort_scale_bf16(ElemArgs args) { scale_body<BF16>(args); }

// Fallbacks for cuStreamWriteValue64 / cuStreamWaitValue64 where the driver lacks stream memory operations.
struct FlagArgs {
    uint64_t* flag;
    uint64_t value;
    uint64_t timeout_ns;
    uint32_t* error;
};

// Kernel boundaries order it after earlier work of the stream; the fence makes that work visible system-wide
// before the flag is.
extern "C" __global__ void cohort_write_value(FlagArgs args) {
    __threadfence_system();
    flag_store_release(args.flag, args.value);
}

extern "C" __global__ void cohort_wait_value(FlagArgs args) {
    wait_flag(args.flag, args.value, args.timeout_ns, args.error, ERR_WAIT_TIMEOUT, 0, 0);
}
