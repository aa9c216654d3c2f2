package io.cohort.select;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.plan.Algorithm;
import io.cohort.topology.Topology;

/** {@link AlgorithmSelector} over a {@link SelectionTable}: the first matching rule wins. */
public final class TableSelector implements AlgorithmSelector {

    private final SelectionTable table;

    public TableSelector(SelectionTable table) {
        this.table = table;
    }

    /** The table of {@code config}'s {@code cohort.algorithm} section. */
    public static TableSelector fromConfig(Config config) {
        return new TableSelector(SelectionTable.fromConfig(config));
    }

    /** The rules shipped in reference.conf. */
    public static TableSelector defaults() {
        return fromConfig(ConfigFactory.defaultReference());
    }

    public SelectionTable table() {
        return table;
    }

    @Override
    public Algorithm select(Collective collective, Topology topology, long messageBytes, DType dtype) {
        return choose(collective, topology, messageBytes, dtype).algorithm();
    }

    /** The algorithm with its tree arity and the rule that chose it. */
    public SelectionTable.Choice choose(Collective collective, Topology topology, long messageBytes, DType dtype) {
        return table.choose(collective, topology, messageBytes, dtype);
    }
}
