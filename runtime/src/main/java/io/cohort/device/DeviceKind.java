package io.cohort.device;

/** What kind of memory and compute a {@link Device} stands for. */
public enum DeviceKind {
    /** CPU memory and threads: a real backend for CPU tensors (like Gloo), also what CI runs. */
    HOST,
    /** An NVIDIA GPU through the CUDA driver API. */
    CUDA
}
