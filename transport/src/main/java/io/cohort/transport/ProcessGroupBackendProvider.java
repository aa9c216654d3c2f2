package io.cohort.transport;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.GroupContext;
import java.util.Optional;

/**
 * Offers {@link ProcessGroupBackend} (NATIVE) for groups whose ranks live in several processes; the process's
 * place in the group comes from {@code cohort.transport} (group, rank, size, channel). Groups held entirely by
 * this process are left to the in-process backends.
 */
public final class ProcessGroupBackendProvider implements BackendProvider {

    @Override
    public BackendKind kind() {
        return BackendKind.NATIVE;
    }

    /** Above the plan-based native backend (0), which serves only groups held by one process. */
    @Override
    public int priority() {
        return 50;
    }

    @Override
    public Optional<String> unavailableReason(GroupContext group) {
        int total = group.topology().size();
        int local = group.ranks().size();
        if (local == total) {
            return Optional.of("all " + total + " ranks are in this process (the cross-process transport is not needed)");
        }
        if (local == 0) {
            return Optional.of("this process holds none of the group's ranks");
        }
        TransportConfig config = transportConfig(group.config());
        if (config.size() * local != total) {
            return Optional.of("the group has " + total + " ranks but cohort.transport.size = " + config.size()
                    + " processes x " + local + " local ranks = " + config.size() * local);
        }
        return Optional.empty();
    }

    @Override
    public CollectiveBackend create(GroupContext group) {
        unavailableReason(group).ifPresent(reason -> {
            throw new io.cohort.core.CohortException("native cross-process backend unavailable: " + reason);
        });
        ProcessGroup processes = ProcessGroup.join(transportConfig(group.config()));
        try {
            return new ProcessGroupBackend(processes, group.ranks(), true);
        } catch (RuntimeException e) {
            processes.close();
            throw e;
        }
    }

    /** GroupContext carries the {@code cohort} section; accept a whole application config as well. */
    static TransportConfig transportConfig(Config config) {
        if (config == null) {
            return TransportConfig.defaults();
        }
        Config root = config.hasPath("cohort") ? config : config.atKey("cohort");
        return TransportConfig.from(root.withFallback(ConfigFactory.empty()));
    }
}
