package io.cohort.actor;

import io.cohort.group.CollectiveFailedException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/** What the coordinator does after a failure, and to calls that waited too long for one to be over. */
final class Recovery {

    private Recovery() {
    }

    /**
     * After a failure of {@code g} (its backend already dropped: its flags and the streams' pending waits belong
     * to a collective that will never finish): every device of the group gets a fresh stream, and every group on
     * those devices stops (its collectives in flight fail, new ones park) until its backend is rebuilt on them.
     */
    static void resetDevicesOf(GroupState g, Collection<GroupState> groups, String reason, Duration drainBound) {
        List<DeviceSlot> reset = new ArrayList<>();
        for (DeviceSlot s : g.ranks) {
            reset.add(s);
            if (s.ready) {
                s.ready = false;
                s.actor.tell(new DeviceActor.Reset(reason, drainBound));
            }
        }
        for (GroupState other : groups) {
            if (reset.stream().anyMatch(other::uses)) {
                other.sequencer.suspend(reason);
            }
        }
    }

    /**
     * Calls parked while their group's devices get fresh streams (each device waits at most the timeout for its
     * old stream to drain) wait at most twice the collective timeout.
     */
    static void failOverdueParked(Collection<GroupState> groups, long now, Duration timeout) {
        long bound = 2 * timeout.toNanos();
        for (GroupState g : groups) {
            g.sequencer.failParkedOlderThan(now, bound, call -> {
                List<String> notReady = Arrays.stream(g.ranks).filter(r -> !r.ready).map(r -> r.device.name()).toList();
                return new CollectiveFailedException(call.collective().cliName() + " on group " + g.id
                        + " did not start within " + 2 * timeout.toMillis() + " ms (twice cohort.collective.timeout): "
                        + (notReady.isEmpty() ? "the group has no backend" : "waiting for fresh streams on "
                        + String.join(", ", notReady)), notReady, null);
            });
        }
    }
}
