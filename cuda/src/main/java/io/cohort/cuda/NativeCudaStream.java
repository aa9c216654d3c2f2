package io.cohort.cuda;

/**
 * The raw handles of a CUDA stream, for libraries bound through java.lang.foreign (NCCL, cuBLAS) that
 * enqueue on the same stream as the rest of Cohort's work.
 */
public interface NativeCudaStream {
    /** The CUstream / cudaStream_t value. */
    long nativeHandle();

    /** CUDA ordinal of the device the stream belongs to. */
    int deviceOrdinal();

    /** Makes the stream's context current on the calling thread (before calling a library on it). */
    void makeContextCurrent();
}
