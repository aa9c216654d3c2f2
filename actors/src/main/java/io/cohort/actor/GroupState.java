package io.cohort.actor;

import com.typesafe.config.Config;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.topology.Topology;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The coordinator's view of one group: its devices (rank r = ranks[r]), topology, backend (rebuilt when a
 * device's stream changes), sequence numbers, and the calls waiting for the backend.
 */
final class GroupState {
    final int id;
    final DeviceSlot[] ranks;
    final Topology topology;
    final BackendKind requested;
    final Config config;
    final int[] builtGenerations;
    final ArrayDeque<Coordinator.Submit> parked = new ArrayDeque<>();
    final Map<CollectiveCall, String> algorithms = new HashMap<>();
    BackendResolver.Resolution resolution;
    CompletableFuture<GroupInfo> pendingCreate;
    CompletableFuture<Void> pendingClose;
    long seq;
    int inFlight;

    GroupState(int id, DeviceSlot[] ranks, Topology topology, BackendKind requested, Config config) {
        this.id = id;
        this.config = config;
        this.ranks = ranks;
        this.topology = topology;
        this.requested = requested;
        this.builtGenerations = new int[ranks.length];
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

    String algorithm(CollectiveCall call) {
        String a = algorithms.get(call);
        if (a == null) {
            if (algorithms.size() >= 4096) {
                algorithms.clear(); // many distinct shapes: keep the cache bounded
            }
            a = resolution.algorithm().apply(call);
            algorithms.put(call, a);
        }
        return a;
    }
}
