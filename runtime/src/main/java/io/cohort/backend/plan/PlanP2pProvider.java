package io.cohort.backend.plan;

import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.GroupContext;
import io.cohort.topology.Topology;
import java.util.Optional;

/** The plan-based P2P backend (priority 0): any device kind, available when every pair has P2P. */
public final class PlanP2pProvider implements BackendProvider {

    @Override
    public BackendKind kind() {
        return BackendKind.P2P;
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public Optional<String> unavailableReason(GroupContext group) {
        Optional<String> local = PlanNativeProvider.allLocal(group);
        if (local.isPresent()) {
            return local;
        }
        Topology t = group.topology();
        for (int i = 0; i < t.size(); i++) {
            for (int j = 0; j < t.size(); j++) {
                if (!t.p2p(i, j)) {
                    return Optional.of("no P2P from rank " + i + " (" + t.deviceNames().get(i) + ") to rank " + j
                            + " (" + t.deviceNames().get(j) + ")");
                }
            }
        }
        return Optional.empty();
    }

    @Override
    public CollectiveBackend create(GroupContext group) {
        return new PlanBackend(BackendKind.P2P, group, null);
    }
}
