/** {@link io.cohort.nn.TensorOps} on host devices: Vector API GEMM and plain element-wise loops. */
package io.cohort.nn.host;
