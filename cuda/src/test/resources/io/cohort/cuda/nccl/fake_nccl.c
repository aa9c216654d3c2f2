/*
 * A stand-in libnccl.so.2 for NcclLibraryBindingTest: same C signatures as nccl.h (2.28), no GPU. Each function
 * prints its arguments into a buffer the test reads back (fakeLastCall), so the test sees exactly what crossed
 * the java.lang.foreign boundary. Built by the test with: cc -shared -fPIC -o libnccl.so.2 fake_nccl.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct { char internal[128]; } ncclUniqueId;
typedef void *ncclComm_t;
typedef void *cudaStream_t;

static char last[512];
static int asyncError;

const char *fakeLastCall(void) { return last; }
void fakeSetAsyncError(int code) { asyncError = code; }

#define P(x) ((unsigned long)(uintptr_t)(x))

int ncclGetVersion(int *version) {
    *version = 22803;
    snprintf(last, sizeof last, "ncclGetVersion");
    return 0;
}

int ncclGetUniqueId(ncclUniqueId *id) {
    for (int i = 0; i < 128; i++) id->internal[i] = (char)(i * 3 + 1);
    snprintf(last, sizeof last, "ncclGetUniqueId");
    return 0;
}

int ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    int sum = 0;
    for (int i = 0; i < 128; i++) sum += (unsigned char)id.internal[i];
    *comm = (ncclComm_t)(uintptr_t)(0xC000 + rank);
    snprintf(last, sizeof last, "ncclCommInitRank nranks=%d rank=%d id[0]=%d id[127]=%d idsum=%d",
             nranks, rank, (unsigned char)id.internal[0], (unsigned char)id.internal[127], sum);
    return 0;
}

int ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist) {
    for (int i = 0; i < ndev; i++) comms[i] = (ncclComm_t)(uintptr_t)(0xA000 + 16 * i + devlist[i]);
    snprintf(last, sizeof last, "ncclCommInitAll ndev=%d dev[0]=%d", ndev, devlist[0]);
    return 0;
}

int ncclGroupStart(void) { snprintf(last, sizeof last, "ncclGroupStart"); return 0; }
int ncclGroupEnd(void) { snprintf(last, sizeof last, "ncclGroupEnd"); return 0; }

/* count 13 makes every collective fail with ncclInvalidArgument, to test the error path */
int ncclAllReduce(const void *s, void *r, size_t count, int dt, int op, ncclComm_t comm, cudaStream_t st) {
    snprintf(last, sizeof last, "ncclAllReduce send=%lx recv=%lx count=%zu dt=%d op=%d comm=%lx stream=%lx",
             P(s), P(r), count, dt, op, P(comm), P(st));
    return count == 13 ? 4 : 0;
}

int ncclBroadcast(const void *s, void *r, size_t count, int dt, int root, ncclComm_t comm, cudaStream_t st) {
    snprintf(last, sizeof last, "ncclBroadcast send=%lx recv=%lx count=%zu dt=%d root=%d comm=%lx stream=%lx",
             P(s), P(r), count, dt, root, P(comm), P(st));
    return count == 13 ? 4 : 0;
}

int ncclReduce(const void *s, void *r, size_t count, int dt, int op, int root, ncclComm_t comm, cudaStream_t st) {
    snprintf(last, sizeof last, "ncclReduce send=%lx recv=%lx count=%zu dt=%d op=%d root=%d comm=%lx stream=%lx",
             P(s), P(r), count, dt, op, root, P(comm), P(st));
    return count == 13 ? 4 : 0;
}

int ncclReduceScatter(const void *s, void *r, size_t count, int dt, int op, ncclComm_t comm, cudaStream_t st) {
    snprintf(last, sizeof last, "ncclReduceScatter send=%lx recv=%lx recvcount=%zu dt=%d op=%d comm=%lx stream=%lx",
             P(s), P(r), count, dt, op, P(comm), P(st));
    return count == 13 ? 4 : 0;
}

int ncclAllGather(const void *s, void *r, size_t count, int dt, ncclComm_t comm, cudaStream_t st) {
    snprintf(last, sizeof last, "ncclAllGather send=%lx recv=%lx sendcount=%zu dt=%d comm=%lx stream=%lx",
             P(s), P(r), count, dt, P(comm), P(st));
    return count == 13 ? 4 : 0;
}

int ncclCommGetAsyncError(ncclComm_t comm, int *error) {
    *error = asyncError;
    snprintf(last, sizeof last, "ncclCommGetAsyncError comm=%lx", P(comm));
    return 0;
}

int ncclCommAbort(ncclComm_t comm) { snprintf(last, sizeof last, "ncclCommAbort comm=%lx", P(comm)); return 0; }
int ncclCommDestroy(ncclComm_t comm) { snprintf(last, sizeof last, "ncclCommDestroy comm=%lx", P(comm)); return 0; }

/* handles made by ncclCommInitAll encode rank (bits 4..11) and device (bits 0..3); single-rank otherwise */
int ncclCommCount(const ncclComm_t comm, int *count) {
    *count = (P(comm) & 0xF000) == 0xA000 ? (int)(((P(comm) >> 4) & 0xFF) + 1) : 1;
    return 0;
}
int ncclCommCuDevice(const ncclComm_t comm, int *device) { *device = (int)(P(comm) & 0xF); return 0; }
int ncclCommUserRank(const ncclComm_t comm, int *rank) {
    *rank = (P(comm) & 0xF000) == 0xA000 ? (int)((P(comm) >> 4) & 0xFF) : 0;
    return 0;
}

const char *ncclGetErrorString(int result) { return result == 4 ? "invalid argument (fake)" : "some error (fake)"; }
const char *ncclGetLastError(ncclComm_t comm) { return comm ? "fake last error" : ""; }
