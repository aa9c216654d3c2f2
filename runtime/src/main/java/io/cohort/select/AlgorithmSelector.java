package io.cohort.select;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.plan.Algorithm;
import io.cohort.topology.Topology;

/** Chooses an algorithm per (topology, collective, message size, dtype). (Stub: rules come as a table.) */
public interface AlgorithmSelector {
    Algorithm select(Collective collective, Topology topology, long messageBytes, DType dtype);
}
