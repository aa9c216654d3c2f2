/**
 * The plan-based backends that work on any device kind: P2P (plans on the group's topology) and NATIVE
 * (plans without P2P, every cross-device move staged through pinned host memory). Registered with
 * ServiceLoader at priority 0, below device-specialised backends.
 */
package io.cohort.backend.plan;
