/**
 * Llama-style checkpoints run tensor-parallel: config.json, memory-mapped safetensors, loading each rank's
 * slices only ({@link io.cohort.model.ShardedLoader}), one rank's decoder ({@link io.cohort.model.LlamaRank}) and
 * the driver over all ranks ({@link io.cohort.model.TensorParallelLlama}). See docs/tensor-parallel.md.
 */
package io.cohort.model;
