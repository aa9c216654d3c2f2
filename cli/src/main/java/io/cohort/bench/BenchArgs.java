package io.cohort.bench;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import io.cohort.core.Collective;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/** Option values shared by the local and the cluster bench: lists with "all", durations. */
public final class BenchArgs {
    private BenchArgs() {
    }

    /** "all" or a comma list of names, each read by {@code parser} (which names the valid ones when it fails). */
    public static <T> List<T> listOrAll(String text, T[] all, Function<String, T> parser) {
        if (text.trim().equalsIgnoreCase("all")) {
            return List.of(all);
        }
        return Arrays.stream(text.split(",")).map(String::trim).filter(s -> !s.isEmpty()).map(parser).distinct().toList();
    }

    /** Collective names, or [all]. */
    public static List<Collective> collectives(List<String> names) {
        if (names.stream().anyMatch(n -> n.trim().equalsIgnoreCase("all"))) {
            return List.of(Collective.values());
        }
        return names.stream().map(Collective::parse).distinct().toList();
    }

    /** A duration as HOCON writes it (500ms, 2s); a bad one is an error naming the option. */
    public static Duration duration(String text, String option) {
        try {
            return ConfigFactory.parseString("d = \"" + text.replace("\"", "") + "\"").getDuration("d");
        } catch (ConfigException e) {
            throw new IllegalArgumentException("bad " + option + " '" + text + "' (expected e.g. 500ms, 2s)");
        }
    }
}
