/**
 * Plan execution: {@link io.cohort.exec.PlanExecutor} validates a plan once, binds it to per-rank buffers and
 * flags, and turns each rank's steps into stream operations per call. Cross-rank order comes only from
 * sequence-numbered flags, so ranks enqueue independently; the plan's own completion round (checked by
 * {@link io.cohort.plan.PlanValidator}) makes back-to-back runs and buffer reuse safe.
 */
package io.cohort.exec;
