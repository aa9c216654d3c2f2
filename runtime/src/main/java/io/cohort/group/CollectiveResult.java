package io.cohort.group;

import io.cohort.backend.BackendKind;
import io.cohort.core.Collective;

/**
 * How one collective went.
 *
 * @param seq           the group's sequence number of the collective (1, 2, ... per backend instance)
 * @param enqueueNanos  host path: API call until the last rank's work was enqueued on its stream
 * @param elapsedNanos  API call until every rank's stream had finished the work
 */
public record CollectiveResult(Collective collective, long seq, BackendKind backend, String algorithm, long bytes,
                               int ranks, long enqueueNanos, long elapsedNanos) {
}
