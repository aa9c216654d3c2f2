package io.cohort.select;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.plan.Algorithm;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The algorithm selection rules as data: the {@code cohort.algorithm} section of the configuration
 * (reference.conf holds the defaults; an application.conf may replace the list). The first rule that matches
 * a call wins; when none does, {@code default} applies.
 *
 * <pre>{@code
 * cohort.algorithm {
 *   default = ring
 *   default-arity = 4
 *   rules = [
 *     { collective = "*", topology = fully-connected, max-bytes = 64KiB, dtype = "*", algorithm = one-shot }
 *   ]
 * }
 * }</pre>
 * Rule keys: collective (all-reduce, ..., or *), topology (fully-connected, islands, no-p2p, any), min-ranks,
 * max-ranks, min-bytes, max-bytes (HOCON sizes, inclusive), dtype (f32, f16, bf16 or *), algorithm, arity.
 * Unknown keys are errors, so a typo cannot silently disable a rule.
 */
public record SelectionTable(List<SelectionRule> rules, Algorithm fallback, int fallbackArity) {

    private static final Set<String> KEYS = Set.of("collective", "topology", "min-ranks", "max-ranks", "min-bytes",
            "max-bytes", "dtype", "algorithm", "arity");

    /** The algorithm and tree arity chosen for a call, and the rule that chose it (null: the default). */
    public record Choice(Algorithm algorithm, int arity, SelectionRule rule) {
    }

    public SelectionTable {
        rules = List.copyOf(rules);
    }

    /** The first matching rule's choice, else the default. */
    public Choice choose(Collective collective, Topology topology, long messageBytes, DType dtype) {
        TopologyClass shape = TopologyClass.of(topology);
        for (SelectionRule rule : rules) {
            if (rule.matches(collective, topology, shape, messageBytes, dtype)) {
                return new Choice(rule.algorithm(), rule.arity(), rule);
            }
        }
        return new Choice(fallback, fallbackArity, null);
    }

    /**
     * The rules as a Markdown table (docs/algorithms.md carries this exact table for the shipped rules; a
     * test keeps the two in step).
     */
    public String toMarkdown() {
        StringBuilder sb = new StringBuilder("| # | collective | topology | ranks | message bytes | dtype | algorithm |\n")
                .append("|---|---|---|---|---|---|---|\n");
        for (int i = 0; i < rules.size(); i++) {
            SelectionRule r = rules.get(i);
            sb.append("| ").append(i + 1)
                    .append(" | ").append(r.collective() == null ? "*" : r.collective().cliName())
                    .append(" | ").append(r.topology().configName())
                    .append(" | ").append(range(r.minRanks(), r.maxRanks(), 1, Integer.MAX_VALUE, Long::toString))
                    .append(" | ").append(range(r.minBytes(), r.maxBytes(), 0, Long.MAX_VALUE, SelectionTable::bytes))
                    .append(" | ").append(r.dtype() == null ? "*" : r.dtype().name().toLowerCase(java.util.Locale.ROOT))
                    .append(" | ").append(r.algorithm().cliName())
                    .append(r.algorithm() == Algorithm.KARY_TREE ? " (arity " + r.arity() + ")" : "").append(" |\n");
        }
        sb.append("| - | * | any | any | any | * | ").append(fallback.cliName()).append(" (default) |\n");
        return sb.toString();
    }

    private static String range(long min, long max, long lowest, long highest, java.util.function.LongFunction<String> f) {
        if (min == lowest && max == highest) {
            return "any";
        }
        if (min == lowest) {
            return "<= " + f.apply(max);
        }
        if (max == highest) {
            return ">= " + f.apply(min);
        }
        return f.apply(min) + " .. " + f.apply(max);
    }

    private static String bytes(long b) {
        if (b >= 1 << 20 && b % (1 << 20) == 0) {
            return (b >> 20) + " MiB";
        }
        if (b >= 1 << 10 && b % (1 << 10) == 0) {
            return (b >> 10) + " KiB";
        }
        return b + " B";
    }

    /** Reads the {@code cohort.algorithm} section of {@code config}. */
    public static SelectionTable fromConfig(Config config) {
        String base = "cohort.algorithm";
        try {
            Config c = config.getConfig(base);
            int defaultArity = c.hasPath("default-arity") ? c.getInt("default-arity") : 4;
            Algorithm fallback = Algorithm.parse(c.getString("default"));
            List<SelectionRule> rules = new ArrayList<>();
            List<? extends Config> list = c.getConfigList("rules");
            for (int i = 0; i < list.size(); i++) {
                rules.add(rule(list.get(i), defaultArity, base + ".rules[" + i + "]"));
            }
            return new SelectionTable(rules, fallback, defaultArity);
        } catch (ConfigException | IllegalArgumentException e) {
            throw new CohortException("bad algorithm selection table (" + base + "): " + e.getMessage(), e);
        }
    }

    private static SelectionRule rule(Config r, int defaultArity, String where) {
        for (String key : r.root().keySet()) {
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException(where + ": unknown key '" + key + "' (expected " + KEYS + ")");
            }
        }
        try {
            String collective = r.hasPath("collective") ? r.getString("collective") : "*";
            String dtype = r.hasPath("dtype") ? r.getString("dtype") : "*";
            return new SelectionRule(
                    collective.equals("*") ? null : Collective.parse(collective),
                    r.hasPath("topology") ? TopologyClass.parse(r.getString("topology")) : TopologyClass.ANY,
                    r.hasPath("min-ranks") ? r.getInt("min-ranks") : 1,
                    r.hasPath("max-ranks") ? r.getInt("max-ranks") : Integer.MAX_VALUE,
                    r.hasPath("min-bytes") ? r.getBytes("min-bytes") : 0,
                    r.hasPath("max-bytes") ? r.getBytes("max-bytes") : Long.MAX_VALUE,
                    dtype.equals("*") ? null : DType.valueOf(dtype.trim().toUpperCase(java.util.Locale.ROOT)),
                    Algorithm.parse(r.getString("algorithm")),
                    r.hasPath("arity") ? r.getInt("arity") : defaultArity);
        } catch (IllegalArgumentException | ConfigException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
    }
}
