// The argument block of the model kernels (nn_kernels.cu, gemv.cu), passed by value: io.cohort.nn.cuda.NnKernels
// packs it (x86-64 / aarch64 layout, 128 bytes) and every launch passes the whole block; a kernel declares the
// prefix it reads (GemvArgs: the first 56 bytes).
#pragma once
#include <stddef.h>
#include <stdint.h>

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
    const void* f;   // the fused rotary attention's cos|sin table
    void* g;         // the fused rotary attention's tickets (unsigned per (row tile, KV head), zero between launches)
};

static_assert(sizeof(NnArgs) == 128, "io.cohort.nn.cuda.NnKernels.ARGS_SIZE");

// The leading fields of NnArgs: what the plain GEMV reads (a = activations, b = weights, out = output, n = weight
// rows, rows = m, cols = k).
struct GemvArgs {
    const void* a;
    const void* b;
    const void* c;
    void* out;
    void* scratch;
    int64_t n;
    int rows, cols;
};
static_assert(sizeof(GemvArgs) == 56 && offsetof(NnArgs, heads) == sizeof(GemvArgs), "GemvArgs is NnArgs' first 56 bytes");
