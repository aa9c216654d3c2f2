/** Per collective, backend, algorithm and size bucket: counts, bytes and lock-free time histograms. */
package io.cohort.metrics;
