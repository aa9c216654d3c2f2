package io.cohort.device;

import io.cohort.core.CohortException;

/** Failure of a device operation (allocation, copy, kernel, driver error). */
public class DeviceException extends CohortException {
    public DeviceException(String message) {
        super(message);
    }

    public DeviceException(String message, Throwable cause) {
        super(message, cause);
    }
}
