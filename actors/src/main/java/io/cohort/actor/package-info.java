/**
 * The actor runtime: a {@link io.cohort.actor.Coordinator} per Cohort sequences every group's collectives and
 * one {@link io.cohort.actor.DeviceActor} per device (pinned thread) enqueues its rank's part; completions come
 * back through the Cohort's {@link io.cohort.actor.CompletionPoller}. Failures and timeouts fail the collective
 * naming the devices, then the group's devices get fresh streams and the group a fresh backend.
 */
package io.cohort.actor;
