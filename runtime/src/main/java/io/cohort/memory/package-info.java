/**
 * Device memory pools: {@link io.cohort.memory.CarvingMemoryPool} takes one allocation per device up front
 * and carves plans' scratch and staging out of it, so binding a plan never calls the driver.
 */
package io.cohort.memory;
