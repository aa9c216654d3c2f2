/**
 * The embedded API: {@link io.cohort.api.Cohort} (own actor system or the application's), groups of devices
 * ({@link io.cohort.api.CohortGroup}) running collectives on per-rank tensors with {@code CompletionStage}
 * results, the backend choice, and metrics.
 */
package io.cohort.api;
