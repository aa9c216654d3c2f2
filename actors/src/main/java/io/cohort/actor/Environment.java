package io.cohort.actor;

import com.typesafe.config.Config;
import io.cohort.device.Device;
import io.cohort.memory.MemoryPool;
import io.cohort.metrics.CollectiveMetrics;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;

/**
 * What the coordinator is built from: the {@code cohort} config section, how to make a device lane's pool, how
 * to find a group's topology and how to make its backend. Tests swap parts (e.g. fault-injecting devices).
 */
public record Environment(Config cohortConfig, PoolFactory pools,
                          Function<List<Device>, Topology> topologies, BackendResolver backends,
                          CollectiveMetrics metrics) {

    /** The pool of one lane of {@code device}, which the group that opens the lane puts {@code shares} ranks on. */
    @FunctionalInterface
    public interface PoolFactory {
        MemoryPool create(Device device, int shares);
    }

    /** With one pool per device whatever the number of ranks on it (the lanes of a shared device share it). */
    public Environment(Config cohortConfig, Function<Device, MemoryPool> pools,
                       Function<List<Device>, Topology> topologies, BackendResolver backends, CollectiveMetrics metrics) {
        this(cohortConfig, (PoolFactory) (device, shares) -> pools.apply(device), topologies, backends, metrics);
    }

    public Duration collectiveTimeout() {
        return cohortConfig.getDuration("collective.timeout");
    }

    public Environment withBackends(BackendResolver resolver) {
        return new Environment(cohortConfig, pools, topologies, resolver, metrics);
    }
}
