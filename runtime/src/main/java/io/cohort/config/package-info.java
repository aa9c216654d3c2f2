/** Checking the {@code cohort} configuration against the defaults of every module on the class path. */
package io.cohort.config;
