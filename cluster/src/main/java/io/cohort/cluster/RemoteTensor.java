package io.cohort.cluster;

import io.cohort.core.DType;

/**
 * A tensor of a cluster group: one per global rank, each in its node's device memory, named by {@code id}.
 * Only the id travels; the data stays on the nodes.
 */
public record RemoteTensor(int group, long id, DType dtype, long count) {
}
