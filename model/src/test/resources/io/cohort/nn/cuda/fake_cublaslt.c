/* A stand-in libcublasLt.so.13 for CublasLtBindingTest: the cuBLASLt 13 signatures Cohort binds, each logging
 * its arguments, so the test sees what the Java side passed. No GPU. Not thread-safe (one test thread). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t data[8]; } algo_t;
typedef struct { algo_t algo; size_t workspaceSize; int state; float wavesCount; int reserved[4]; } result_t;
typedef struct { int type; uint64_t rows, cols; int64_t ld; } layout_t;
typedef struct { int compute, scale, transa, transb; } desc_t;

static char log_[8192];
static int live;   /* objects created and not yet destroyed */

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
    size_t used = strlen(log_);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log_ + used, sizeof log_ - used, fmt, ap);
    va_end(ap);
}

const char* fakeLog(void) { return log_; }
void fakeReset(void) { log_[0] = 0; }
int fakeLive(void) { return live; }

int cublasLtCreate(void** handle) { *handle = malloc(1); live++; say("create;"); return 0; }
int cublasLtDestroy(void* handle) { free(handle); live--; say("destroy;"); return 0; }

int cublasLtMatmulPreferenceCreate(void** pref) { *pref = malloc(1); live++; say("pref;"); return 0; }
int cublasLtMatmulPreferenceDestroy(void* pref) { free(pref); live--; say("prefdestroy;"); return 0; }
int cublasLtMatmulPreferenceSetAttribute(void* pref, int attr, const void* buf, size_t size) {
    say("prefattr %d %zu %llu;", attr, size, size == 8 ? (unsigned long long) *(const uint64_t*) buf : 0ULL);
    return 0;
}

int cublasLtMatmulDescCreate(void** desc, int compute, int scale) {
    desc_t* d = calloc(1, sizeof *d);
    d->compute = compute;
    d->scale = scale;
    *desc = d;
    live++;
    say("desc %d %d;", compute, scale);
    return 0;
}
int cublasLtMatmulDescDestroy(void* desc) { free(desc); live--; say("descdestroy;"); return 0; }
int cublasLtMatmulDescSetAttribute(void* desc, int attr, const void* buf, size_t size) {
    desc_t* d = desc;
    int v = size == 4 ? *(const int*) buf : -1;
    if (attr == 3) d->transa = v;
    if (attr == 4) d->transb = v;
    say("descattr %d %zu %d;", attr, size, v);
    return 0;
}

int cublasLtMatrixLayoutCreate(void** layout, int type, uint64_t rows, uint64_t cols, int64_t ld) {
    layout_t* l = malloc(sizeof *l);
    l->type = type;
    l->rows = rows;
    l->cols = cols;
    l->ld = ld;
    *layout = l;
    live++;
    say("layout %d %llu %llu %lld;", type, (unsigned long long) rows, (unsigned long long) cols, (long long) ld);
    return 0;
}
int cublasLtMatrixLayoutDestroy(void* layout) { free(layout); live--; say("layoutdestroy;"); return 0; }

/* Lists three algorithms, the second with a failed state; rows == 7 in B (m = 7) lists none (NOT_SUPPORTED). */
int cublasLtMatmulAlgoGetHeuristic(void* handle, void* desc, void* a, void* b, void* c, void* d, void* pref,
                                   int requested, result_t* results, int* returned) {
    say("heur %d %s;", requested, c == d ? "c=d" : "c!=d");
    if (((layout_t*) b)->cols == 7) {
        return 15;
    }
    for (int i = 0; i < 3 && i < requested; i++) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].algo.data[0] = 1000 + i;
        results[i].workspaceSize = 1024u * i;
        results[i].state = i == 1 ? 15 : 0;
        results[i].wavesCount = 0.5f + i;
    }
    *returned = requested < 3 ? requested : 3;
    return 0;
}

int cublasLtMatmul(void* handle, void* descp, const void* alpha, const void* A, void* Adesc, const void* B,
                   void* Bdesc, const void* beta, const void* C, void* Cdesc, void* D, void* Ddesc,
                   const algo_t* algo, void* workspace, size_t workspaceBytes, void* stream) {
    desc_t* desc = descp;
    layout_t* la = Adesc;
    layout_t* lb = Bdesc;
    layout_t* lc = Cdesc;
    say("matmul A=%llx [%llux%llu ld %lld t%d] B=%llx [%llux%llu ld %lld t%d] %s alpha=%g beta=%g C=%llx %s "
        "algo=%llu ws=%llx/%zu stream=%llx c%d [%llux%llu];",
        (unsigned long long) (uintptr_t) A, (unsigned long long) la->rows, (unsigned long long) la->cols,
        (long long) la->ld, desc->transa, (unsigned long long) (uintptr_t) B, (unsigned long long) lb->rows,
        (unsigned long long) lb->cols, (long long) lb->ld, desc->transb, C == D ? "c=d" : "c!=d",
        *(const float*) alpha, *(const float*) beta, (unsigned long long) (uintptr_t) C,
        Cdesc == Ddesc ? "cdesc=ddesc" : "cdesc!=ddesc", (unsigned long long) algo->data[0],
        (unsigned long long) (uintptr_t) workspace, workspaceBytes, (unsigned long long) (uintptr_t) stream,
        lc->type, (unsigned long long) lc->rows, (unsigned long long) lc->cols);
    return 0;
}
