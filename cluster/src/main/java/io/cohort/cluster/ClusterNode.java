package io.cohort.cluster;

import com.typesafe.config.Config;
import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.transport.TransportConfig;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A device node: one JVM that joins the cluster, opens its local devices, runs their DeviceActors in a local
 * {@link Cohort} group and offers them to the coordinator through a {@link NodeAgent}.
 */
public final class ClusterNode implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterNode.class);

    private final ActorSystem<Void> system;
    private final Cohort cohort;
    private final NodeInfo info;

    private final java.util.concurrent.CompletionStage<Void> stopped;

    private ClusterNode(ActorSystem<Void> system, Cohort cohort, NodeInfo info) {
        this.system = system;
        this.cohort = cohort;
        this.info = info;
        this.stopped = ClusterMembership.stopped(system);
    }

    /** Joins the cluster {@code config} describes (a whole config, e.g. from {@link ClusterSettings#load}). */
    public static ClusterNode start(Config config) {
        ClusterSettings settings = ClusterSettings.from(config);
        ActorSystem<Void> system = ClusterMembership.start(settings, config);
        Cohort cohort = null;
        try {
            ClusterMembership.awaitUp(system, settings);
            cohort = Cohort.inside(system);
            List<Device> devices = cohort.devices(settings.devices());
            CohortGroup local = cohort.group(devices, settings.backend());
            var choice = local.backendChoice();
            NodeInfo info = new NodeInfo(ClusterMembership.address(system), settings.role(),
                    devices.stream().map(Device::name).toList(), choice.chosen().cliName(), local.topology().toString(),
                    localPlan(local));
            system.systemActorOf(NodeAgent.create(info, local, settings, TransportConfig.from(config)), "cohort-node",
                    Props.empty());
            LOG.info("node {} ({}) joined cluster '{}' with {}, local {}", info.address(), settings.role(),
                    settings.name(), info.devices(), choice); // choice reads "backend p2p (requested auto, ...)"
            return new ClusterNode(system, cohort, info);
        } catch (RuntimeException e) {
            if (cohort != null) {
                cohort.close();
            }
            ClusterMembership.leave(system, Duration.ofSeconds(10));
            throw e;
        }
    }

    /** The intra-node levels of a 1 MiB f32 collective as the local backend runs them. */
    private static String localPlan(CohortGroup local) {
        long count = (1 << 20) / DType.F32.bytes();
        try {
            return "reduce: " + local.describe(new CollectiveCall(Collective.REDUCE, DType.F32, ReduceOp.SUM, count, 0))
                    + "\nbroadcast: " + local.describe(new CollectiveCall(Collective.BROADCAST, DType.F32, ReduceOp.SUM,
                    count, 0));
        } catch (RuntimeException e) {
            return "(not described: " + e.getMessage() + ")";
        }
    }

    public NodeInfo info() {
        return info;
    }

    public ActorSystem<Void> system() {
        return system;
    }

    /**
     * Completes when the node's actor system stops (it left, was downed, or {@link #close} ran), or at the latest
     * the actor-system-terminate phase's timeout + 2 s after its shutdown reached that phase
     * ({@link ClusterMembership#stopped}).
     */
    public java.util.concurrent.CompletionStage<?> whenStopped() {
        return stopped;
    }

    @Override
    public void close() {
        cohort.close();
        ClusterMembership.leave(system, Duration.ofSeconds(10));
    }
}
