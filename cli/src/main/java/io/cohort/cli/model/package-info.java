/** {@code cohort model}: run, bench and make-tiny for tensor-parallel Llama-style models. See docs/tensor-parallel.md. */
package io.cohort.cli.model;
