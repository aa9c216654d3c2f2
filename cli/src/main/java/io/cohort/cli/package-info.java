/** The {@code cohort} command line (picocli): {@code topo}, {@code bench}, {@code selftest}. See docs/cli.md. */
package io.cohort.cli;
