package io.cohort.backend;

import java.util.Optional;

/**
 * A way to carry out collectives, found with {@link java.util.ServiceLoader}: the runtime provides the
 * plan-based p2p and native backends for any device; cuda/ adds the CUDA p2p kernels and NCCL. Among
 * providers of one kind the highest {@link #priority()} that is available wins.
 */
public interface BackendProvider {

    BackendKind kind();

    /** Higher wins among available providers of one kind (plan-based: 0; device-specialised: 100). */
    int priority();

    /** Empty if this provider can serve the group; otherwise why not (logged, shown by the CLI). */
    Optional<String> unavailableReason(GroupContext group);

    CollectiveBackend create(GroupContext group);
}
