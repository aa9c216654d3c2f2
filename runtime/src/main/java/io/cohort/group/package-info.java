/**
 * In-process groups: {@link io.cohort.group.LocalGroup} runs collectives over devices of this process with
 * one stream and pool per device and the backend {@link io.cohort.backend.Backends} chooses, without actors.
 */
package io.cohort.group;
