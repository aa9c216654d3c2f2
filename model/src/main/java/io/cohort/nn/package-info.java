/**
 * Tensor-parallel layers (Megatron style) and what they run on: {@link io.cohort.nn.Matrix} views of device
 * memory, {@link io.cohort.nn.TensorOps} (compute on one device), column- and row-parallel linear layers,
 * SwiGLU MLP, attention with heads split across ranks, vocab-parallel embedding and LM head, and the SPMD
 * communication seam ({@link io.cohort.nn.TpComm}, {@link io.cohort.nn.TpGroup},
 * {@link io.cohort.nn.AllReduceGroup}). See docs/tensor-parallel.md.
 */
package io.cohort.nn;
