/** Examples of the embedded API, compiled and run by the tests. */
package io.cohort.examples;
