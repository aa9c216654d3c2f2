package io.cohort.device.host;

import java.util.ArrayList;
import java.util.List;

/** Opens several {@link HostDevice}s at once: host:0 .. host:n-1, the usual way to build a CPU group. */
public final class HostDevices {
    private HostDevices() {
    }

    /** {@code n} host devices with default options. */
    public static List<HostDevice> open(int n) {
        return open(n, HostDevice.Options.defaults());
    }

    /** {@code n} host devices sharing {@code options} (each gets the full memory budget). */
    public static List<HostDevice> open(int n, HostDevice.Options options) {
        if (n < 1) {
            throw new IllegalArgumentException("need at least one host device, asked " + n);
        }
        List<HostDevice> devices = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            devices.add(HostDevice.open(i, options));
        }
        return List.copyOf(devices);
    }

    /** Closes every device, continuing past failures; the first failure is rethrown at the end. */
    public static void closeAll(List<? extends HostDevice> devices) {
        RuntimeException first = null;
        for (HostDevice d : devices) {
            try {
                d.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
