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
 * The standard parts: a {@link CarvingMemoryPool} per device ({@code cohort.pool.capacity}), topologies
 * from the device kind's detector, backends chosen by {@link Backends} among the providers on the class
 * path (with its fallbacks and their log line).
 */
public final class Environments {
    private Environments() {
    }

    public static Environment defaults(Config cohortConfig) {
        return new Environment(cohortConfig, device -> pool(device, cohortConfig), ds -> Devices.topology(ds, cohortConfig),
                Environments::resolve, new CollectiveMetrics());
    }

    static MemoryPool pool(Device device, Config cohortConfig) {
        long capacity = PlanSettings.bytesOrAuto(cohortConfig, "pool.capacity");
        return capacity == 0 ? CarvingMemoryPool.create(device) : CarvingMemoryPool.create(device, capacity);
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
