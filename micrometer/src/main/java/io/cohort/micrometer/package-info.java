/** Cohort's collective metrics as Micrometer meters: {@link io.cohort.micrometer.CohortMeterBinder}. */
package io.cohort.micrometer;
