package io.cohort.cuda;

/** How a {@link CudaStream} implements writeValue / waitValue. */
public enum FlagOps {
    /** cuStreamWriteValue64 / cuStreamWaitValue64 (GEQ): no kernel, no SM held while waiting. */
    STREAM_MEMORY_OPS,
    /** One-thread kernels that store / spin on the flag (system-scope release / acquire) with a timeout. */
    KERNELS
}
