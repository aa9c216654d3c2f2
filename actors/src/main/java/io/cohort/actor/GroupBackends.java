package io.cohort.actor;

import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.device.DeviceStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Builds a group's backend on the streams its devices have now and hands it to the group's sequencer as an
 * epoch; drops it after a failure or at close. The coordinator's, on its thread.
 */
final class GroupBackends {

    private final BackendResolver resolver;
    private long nextEpochId = 1;

    GroupBackends(BackendResolver resolver) {
        this.resolver = resolver;
    }

    /**
     * A fresh backend (and epoch) unless the current one was built on the devices' current streams; true if one
     * was built. Throws what the resolver throws (the group then has no backend).
     */
    boolean bringUpToDate(GroupState g) {
        if (g.current()) {
            return false;
        }
        drop(g);
        List<RankContext> ranks = new ArrayList<>(g.ranks.length);
        DeviceStream[] streams = new DeviceStream[g.ranks.length];
        for (int r = 0; r < g.ranks.length; r++) {
            DeviceSlot s = g.ranks[r];
            ranks.add(new RankContext(r, s.device, s.stream, s.pool));
            streams[r] = s.stream;
            g.builtGenerations[r] = s.generation;
        }
        BackendResolver.Resolution res = resolver.resolve(g.requested, new GroupContext(g.topology, ranks, g.config));
        g.resolution = res;
        g.sequencer.activate(new GroupSequencer.Epoch(nextEpochId++, res.backend(), res.choice(),
                cachedAlgorithms(res), streams));
        return true;
    }

    /** Closes the group's backend off this thread (closing drains its streams, which may be stuck). */
    void drop(GroupState g) {
        if (g.resolution != null) {
            var old = g.resolution.backend();
            Reaper.closeQuietly("backend of group " + g.id, old::close);
            g.resolution = null;
        }
    }

    /** The resolver's algorithm labels, cached per call shape (bounded): asked once per shape, not per call. */
    private static Function<CollectiveCall, String> cachedAlgorithms(BackendResolver.Resolution res) {
        Map<CollectiveCall, String> cache = new ConcurrentHashMap<>();
        return call -> {
            String a = cache.get(call);
            if (a == null) {
                if (cache.size() >= 4096) {
                    cache.clear(); // many distinct shapes: keep the cache bounded
                }
                a = res.algorithm().apply(call);
                cache.put(call, a);
            }
            return a;
        };
    }
}
