/** nccl-tests-style measurement and checking of collectives, shared by {@code cohort bench} and {@code cohort selftest}. */
package io.cohort.bench;
