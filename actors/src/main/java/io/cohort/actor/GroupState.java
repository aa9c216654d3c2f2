package io.cohort.actor;

import com.typesafe.config.Config;
import io.cohort.backend.BackendKind;
import io.cohort.topology.Topology;
import java.util.concurrent.CompletableFuture;

/**
 * The coordinator's view of one group: its devices (rank r = ranks[r]), topology, backend (rebuilt when a
 * device's stream changes) and its data plane, the {@link GroupSequencer}.
 */
final class GroupState {
    final int id;
    final DeviceSlot[] ranks;
    final Topology topology;
    final BackendKind requested;
    final Config config;
    final int[] builtGenerations;
    final GroupSequencer sequencer;
    BackendResolver.Resolution resolution;
    CompletableFuture<GroupInfo> pendingCreate;
    CompletableFuture<Void> pendingClose;

    GroupState(int id, DeviceSlot[] ranks, Topology topology, BackendKind requested, Config config,
               GroupSequencer sequencer) {
        this.id = id;
        this.config = config;
        this.ranks = ranks;
        this.topology = topology;
        this.requested = requested;
        this.builtGenerations = new int[ranks.length];
        this.sequencer = sequencer;
    }

    boolean allReady() {
        for (DeviceSlot s : ranks) {
            if (!s.ready) {
                return false;
            }
        }
        return true;
    }

    /** Whether the backend was built on the streams the devices have now. */
    boolean current() {
        if (resolution == null) {
            return false;
        }
        for (int r = 0; r < ranks.length; r++) {
            if (!ranks[r].ready || ranks[r].generation != builtGenerations[r]) {
                return false;
            }
        }
        return true;
    }

    boolean uses(DeviceSlot slot) {
        for (DeviceSlot s : ranks) {
            if (s == slot) {
                return true;
            }
        }
        return false;
    }
}
