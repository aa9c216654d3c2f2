package io.cohort.actor;

import com.typesafe.config.Config;
import io.cohort.backend.BackendChoice;
import io.cohort.backend.Backends;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.plan.PlanBackend;
import io.cohort.backend.plan.PlanSettings;
import io.cohort.device.Device;
import io.cohort.device.discovery.Devices;
import io.cohort.memory.CarvingMemoryPool;
import io.cohort.memory.MemoryPool;
import io.cohort.metrics.CollectiveMetrics;
import java.util.function.Function;

/**
 * The standard parts: a {@link CarvingMemoryPool} per device lane ({@code cohort.pool.capacity}; auto: the
 * default capacity of the device's free memory divided by the ranks the opening group puts on it), topologies
 * from the device kind's detector, backends chosen by {@link Backends} among the providers on the class
 * path (with its fallbacks and their log line).
 */
public final class Environments {
    private Environments() {
    }

    public static Environment defaults(Config cohortConfig) {
        return new Environment(cohortConfig, (Environment.PoolFactory) (device, shares) -> pool(device, shares, cohortConfig),
                ds -> Devices.topology(ds, cohortConfig), Environments::resolve, new CollectiveMetrics());
    }

    /** As {@code LocalGroup} sizes the pools of ranks that share a device: each gets its share of the default. */
    static MemoryPool pool(Device device, int shares, Config cohortConfig) {
        long capacity = PlanSettings.bytesOrAuto(cohortConfig, "pool.capacity");
        return CarvingMemoryPool.create(device, capacity > 0 ? capacity
                : MemoryPool.defaultCapacity(device.freeMemory() / Math.max(1, shares)));
    }

    static BackendResolver.Resolution resolve(io.cohort.backend.BackendKind requested, io.cohort.backend.GroupContext group) {
        BackendChoice choice = Backends.choose(requested, group);
        CollectiveBackend backend = choice.create(group);
        return new BackendResolver.Resolution(backend, choice, algorithmLabel(backend));
    }

    /** The algorithm of a call as metrics and the CLI name it: the plan's algorithm, or the backend (nccl). */
    static Function<CollectiveCall, String> algorithmLabel(CollectiveBackend backend) {
        if (backend instanceof PlanBackend plan) {
            return call -> plan.algorithm(call).cliName();
        }
        String name = backend.kind().cliName();
        return call -> name;
    }
}
