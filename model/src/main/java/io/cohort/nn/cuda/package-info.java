/**
 * The model layers on a GPU: cuBLAS 13 GEMMs ({@link io.cohort.nn.cuda.CublasGemm}), decode GEMMs of gemv.cu and
 * the kernels of nn_kernels.cu, all bound with java.lang.foreign, behind {@link io.cohort.nn.cuda.CudaTensorOps}.
 */
package io.cohort.nn.cuda;
