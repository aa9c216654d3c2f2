/**
 * The model layers on a GPU: cuBLAS 13 GEMMs ({@link io.cohort.cuda.blas.CublasGemm}) and the kernels of
 * nn_kernels.cu, both bound with java.lang.foreign, behind {@link io.cohort.cuda.blas.CudaTensorOps}.
 */
package io.cohort.cuda.blas;
