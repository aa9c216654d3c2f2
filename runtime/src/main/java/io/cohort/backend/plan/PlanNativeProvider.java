package io.cohort.backend.plan;

import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.GroupContext;
import java.util.Optional;

/**
 * The plan-based native backend (priority 0): every cross-device move staged through pinned host memory.
 * Works for any device kind whose ranks are all in this process.
 */
public final class PlanNativeProvider implements BackendProvider {

    @Override
    public BackendKind kind() {
        return BackendKind.NATIVE;
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public Optional<String> unavailableReason(GroupContext group) {
        return allLocal(group);
    }

    static Optional<String> allLocal(GroupContext group) {
        if (group.ranks().size() != group.topology().size()) {
            return Optional.of("plan backends need every rank in this process (" + group.ranks().size() + " of "
                    + group.topology().size() + " are local)");
        }
        return Optional.empty();
    }

    @Override
    public CollectiveBackend create(GroupContext group) {
        return new PlanBackend(BackendKind.NATIVE, group, null);
    }
}
