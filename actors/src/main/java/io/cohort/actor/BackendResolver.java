package io.cohort.actor;

import io.cohort.backend.BackendChoice;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import java.util.function.Function;

/** Creates a group's backend for the requested kind (with fallbacks), and says which algorithm a call uses. */
@FunctionalInterface
public interface BackendResolver {

    Resolution resolve(BackendKind requested, GroupContext group);

    /** The backend, how it was chosen, and the algorithm label of a call (for metrics, JFR and the CLI). */
    record Resolution(CollectiveBackend backend, BackendChoice choice, Function<CollectiveCall, String> algorithm) {
    }
}
