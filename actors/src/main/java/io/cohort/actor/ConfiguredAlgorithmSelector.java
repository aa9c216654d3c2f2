package io.cohort.actor;

import com.typesafe.config.ConfigFactory;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.plan.Algorithm;
import io.cohort.select.AlgorithmSelector;
import io.cohort.select.TableSelector;

/**
 * The selection table of the application's configuration ({@code cohort.algorithm.rules}), registered with
 * ServiceLoader so that plan backends created through {@code Backends} choose per topology and size instead
 * of falling back to the ring.
 */
public final class ConfiguredAlgorithmSelector implements AlgorithmSelector {

    private final TableSelector table = TableSelector.fromConfig(ConfigFactory.load());

    @Override
    public Algorithm select(Collective collective, io.cohort.topology.Topology topology, long messageBytes, DType dtype) {
        return table.select(collective, topology, messageBytes, dtype);
    }
}
