package io.cohort.actor;

import io.cohort.core.CohortException;
import io.cohort.device.Device;
import io.cohort.memory.MemoryPool;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's devices, each as lanes: lane k carries the k-th rank a group puts on the device (one lane
 * unless a spec such as {@code host:0*2} shares the device), with a stream, a pool and an actor of its own, as
 * {@code LocalGroup.Builder.sharedDevices()} gives each rank. Two ranks on one stream would wait for each other
 * forever. Groups that use the same lanes are ordered on them exactly as groups on distinct devices are.
 *
 * <p>One {@link DeviceActor} per lane rather than per device: an actor's one job is one stream's life (create,
 * reset, drain, close), a reset of one rank's stream must drain only that stream, and recovery already works per
 * lane. It costs one pinned thread per lane, at most {@code DeviceSpec.MAX_SHARED_RANKS} a device. The
 * coordinator's, on its thread.
 */
final class DeviceLanes {

    private static final Logger log = LoggerFactory.getLogger(DeviceLanes.class);

    /** Starts the actor of a new lane; {@code order} is unique (the lane's place in the lock order). */
    @FunctionalInterface
    interface ActorSpawner {
        ActorRef<DeviceActor.Command> spawn(Device device, int lane, int order);
    }

    private final Environment.PoolFactory pools;
    private final ActorSpawner spawner;
    /** Each device's lanes, lane k at index k. */
    private final Map<Device, List<DeviceSlot>> lanes = new IdentityHashMap<>();
    private int nextOrder;

    DeviceLanes(Environment.PoolFactory pools, ActorSpawner spawner) {
        this.pools = pools;
        this.spawner = spawner;
    }

    /**
     * Rank r's lane for a group of {@code ranks}, opened where new. A device at several ranks is refused unless
     * {@code shared} (it came from a shared spec): otherwise it is a mistake in the list.
     */
    DeviceSlot[] of(List<Device> ranks, boolean shared) {
        DeviceSlot[] slots = new DeviceSlot[ranks.size()];
        for (int r = 0; r < slots.length; r++) {
            Device d = ranks.get(r);
            int lane = 0;
            int shares = 0;
            for (int q = 0; q < slots.length; q++) {
                if (ranks.get(q) == d) {
                    lane += q < r ? 1 : 0;
                    shares++;
                }
            }
            if (lane > 0 && !shared) {
                throw new CohortException(d.name() + " is rank " + ranks.indexOf(d) + " and rank " + r + " of one group"
                        + " (for several ranks on one device open them with a spec such as "
                        + d.kind().name().toLowerCase(Locale.ROOT) + ":" + d.ordinal() + "*" + shares + ")");
            }
            slots[r] = lane(d, lane, shares);
        }
        return slots;
    }

    /** The lane a device actor reports about, or null if unknown. */
    DeviceSlot of(DeviceActor.Report report) {
        List<DeviceSlot> l = lanes.get(report.device());
        return l == null || report.lane() >= l.size() ? null : l.get(report.lane());
    }

    /** Lane {@code lane} of {@code d}, opening it (and the lanes below it) where new. */
    private DeviceSlot lane(Device d, int lane, int shares) {
        List<DeviceSlot> l = lanes.computeIfAbsent(d, x -> new ArrayList<>());
        while (l.size() <= lane) {
            int k = l.size();
            MemoryPool pool = pools.create(d, shares);
            int order = nextOrder++;
            ActorRef<DeviceActor.Command> actor;
            try {
                actor = spawner.spawn(d, k, order);
            } catch (RuntimeException e) {
                pool.close();
                throw e;
            }
            l.add(new DeviceSlot(d, k, pool, actor, order));
        }
        return l.get(lane);
    }

    /** At shutdown (the actors have stopped): closes every lane's pool once (lanes may share one, as in tests). */
    void closePools() {
        List<MemoryPool> closed = new ArrayList<>();
        for (List<DeviceSlot> l : lanes.values()) {
            for (DeviceSlot s : l) {
                if (closed.stream().anyMatch(p -> p == s.pool)) {
                    continue;
                }
                closed.add(s.pool);
                try {
                    s.pool.close();
                } catch (RuntimeException e) {
                    log.warn("closing the pool of {} failed: {}", s.name(), e.toString());
                }
            }
        }
        lanes.clear();
    }
}
