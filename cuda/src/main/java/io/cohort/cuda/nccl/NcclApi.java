package io.cohort.cuda.nccl;

import java.lang.foreign.MemorySegment;

/**
 * The part of NCCL's C API that Cohort calls, one method per function, returning the raw {@code ncclResult_t}
 * code. Pointers the caller already holds (communicators, device buffers, streams) travel as addresses
 * ({@code long}); out-parameters are segments the caller owns, so a hot call allocates nothing.
 *
 * <p>{@link NcclLibrary} implements it over libnccl with java.lang.foreign; tests implement it with a
 * recording fake, so everything above this seam (validation, grouping, error mapping) runs without a GPU.
 * Result codes become exceptions one level up ({@link NcclException#check}).
 */
public interface NcclApi {

    /** ncclGetVersion(int* version). */
    int getVersion(MemorySegment versionOut);

    /** ncclGetUniqueId(ncclUniqueId* uniqueId): writes 128 bytes. */
    int getUniqueId(MemorySegment uniqueIdOut);

    /** ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank); the id is passed by value. */
    int commInitRank(MemorySegment commOut, int nranks, MemorySegment uniqueId, int rank);

    /** ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist). */
    int commInitAll(MemorySegment commsOut, int ndev, MemorySegment devList);

    int groupStart();

    int groupEnd();

    /** ncclAllReduce(sendbuff, recvbuff, count, datatype, op, comm, stream). */
    int allReduce(long send, long recv, long count, int datatype, int op, long comm, long stream);

    /** ncclBroadcast(sendbuff, recvbuff, count, datatype, root, comm, stream). */
    int broadcast(long send, long recv, long count, int datatype, int root, long comm, long stream);

    /** ncclReduce(sendbuff, recvbuff, count, datatype, op, root, comm, stream). */
    int reduce(long send, long recv, long count, int datatype, int op, int root, long comm, long stream);

    /** ncclReduceScatter(sendbuff, recvbuff, recvcount, datatype, op, comm, stream). */
    int reduceScatter(long send, long recv, long recvCount, int datatype, int op, long comm, long stream);

    /** ncclAllGather(sendbuff, recvbuff, sendcount, datatype, comm, stream). */
    int allGather(long send, long recv, long sendCount, int datatype, long comm, long stream);

    /** ncclCommGetAsyncError(comm, ncclResult_t* asyncError). */
    int commGetAsyncError(long comm, MemorySegment resultOut);

    int commAbort(long comm);

    int commDestroy(long comm);

    int commCount(long comm, MemorySegment countOut);

    int commCuDevice(long comm, MemorySegment deviceOut);

    int commUserRank(long comm, MemorySegment rankOut);

    /** ncclGetErrorString: NCCL's text for a result code. */
    String getErrorString(int result);

    /** ncclGetLastError(comm) (comm may be 0): the last error NCCL logged, "" if none or not supported. */
    String getLastError(long comm);
}
