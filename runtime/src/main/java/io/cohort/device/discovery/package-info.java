/**
 * Opening devices by spec ({@code host:4}, {@code cuda}, {@code auto}) through the
 * {@link io.cohort.device.DeviceFactory} ServiceLoader SPI; host devices are provided here, GPUs by cuda/.
 */
package io.cohort.device.discovery;
