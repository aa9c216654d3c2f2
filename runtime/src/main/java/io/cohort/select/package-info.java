/**
 * Choosing an algorithm per call: {@link io.cohort.select.TableSelector} applies the rules of
 * {@link io.cohort.select.SelectionTable}, read from {@code cohort.algorithm} in the configuration, so the
 * thresholds are data that measurements can change without code. See docs/algorithms.md.
 */
package io.cohort.select;
