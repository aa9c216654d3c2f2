package io.cohort.device.host;

import io.cohort.device.DeviceEvent;

/**
 * An event of a {@link HostDevice} with CUDA semantics. A record captures "the first {@code ticket} commands
 * of {@code stream}"; the event is complete once that stream has retired that many commands. Recording costs
 * no command at all, and a later record replaces the captured point: {@link HostStream#waitFor} copies the
 * point at call time, so re-recording never changes what an earlier waitFor waits for.
 */
public final class HostEvent implements DeviceEvent {

    private final HostDevice device;
    private HostStream stream;
    private long ticket;

    HostEvent(HostDevice device) {
        this.device = device;
    }

    synchronized void capture(HostStream stream, long ticket) {
        this.stream = stream;
        this.ticket = ticket;
    }

    synchronized HostStream capturedStream() {
        return stream;
    }

    synchronized long capturedTicket() {
        return ticket;
    }

    @Override
    public boolean isComplete() {
        HostStream s;
        long t;
        synchronized (this) {
            s = stream;
            t = ticket;
        }
        return s == null || s.retired() >= t;
    }

    @Override
    public void synchronize() {
        HostStream s;
        long t;
        synchronized (this) {
            s = stream;
            t = ticket;
        }
        if (s != null) {
            s.awaitRetired(t, device.waitTimeout(), "event synchronize");
        }
    }

    /** Waits at most {@code timeoutNanos} (and never longer than the device's wait timeout). */
    @Override
    public void synchronize(long timeoutNanos) {
        HostStream s;
        long t;
        synchronized (this) {
            s = stream;
            t = ticket;
        }
        if (s != null) {
            s.awaitRetired(t, Math.min(timeoutNanos, device.waitTimeout().toNanos()), "event synchronize");
        }
    }

    @Override
    public void close() {
        // nothing to release: an event is two fields
    }

    @Override
    public String toString() {
        return "event of " + device.name();
    }
}
