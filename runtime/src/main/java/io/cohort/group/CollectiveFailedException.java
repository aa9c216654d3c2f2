package io.cohort.group;

import io.cohort.core.CohortException;
import java.util.List;

/**
 * A collective did not complete: a device threw, or did not finish within {@code cohort.collective.timeout}.
 * {@link #devices()} names the devices at fault; the message says what happened on each.
 */
public class CollectiveFailedException extends CohortException {
    private final List<String> devices;

    public CollectiveFailedException(String message, List<String> devices, Throwable cause) {
        super(message, cause);
        this.devices = List.copyOf(devices);
    }

    /** Names of the devices that threw or did not complete. */
    public List<String> devices() {
        return devices;
    }
}
