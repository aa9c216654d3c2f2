package io.cohort.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.File;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks the {@code cohort} keys of a configuration against the schema made by the defaults: every
 * {@code reference.conf} on the class path merged, plus the resources named in
 * {@code cohort.config.extra-defaults}. A key the defaults lack is an error naming the nearest known key; a
 * value whose type differs from its default's (a word where a duration, size, number or flag is due) is an
 * error; a key listed in {@code cohort.config.choices} must hold one of its values. Subtrees listed in
 * {@code cohort.config.open} (e.g. Pekko dispatcher settings) are not checked. Each error is one line that says
 * where the value came from.
 */
public final class ConfigValidator {

    private final Config schema;
    private final Set<String> open;
    private final Map<String, Object> choices;
    private final List<String> knownPaths;

    private ConfigValidator(Config schema) {
        this.schema = schema;
        Config meta = schema.getConfig("cohort.config");
        this.open = new HashSet<>(meta.getObject("open").keySet());
        this.choices = meta.getObject("choices").unwrapped();
        this.knownPaths = schema.getConfig("cohort").entrySet().stream().map(Map.Entry::getKey)
                .filter(p -> !p.startsWith("config.")).sorted().toList();
    }

    /** The validator of the class path's defaults. */
    public static ConfigValidator fromClassPath() {
        Config reference = ConfigFactory.defaultReference();
        Config schema = reference;
        for (String resource : reference.getStringList("cohort.config.extra-defaults")) {
            schema = schema.withFallback(ConfigFactory.parseResources(resource));
        }
        return new ConfigValidator(schema.resolve());
    }

    /** Checks {@code root}'s {@code cohort} section (a missing one is fine); throws the first problem found. */
    public static void check(Config root) {
        fromClassPath().validate(root);
    }

    /**
     * Parses a HOCON file, turning a syntax error into one line with the file and line; a missing file too.
     */
    public static Config parseFile(File file) {
        if (!file.isFile()) {
            throw new InvalidConfigException("config file " + file + " not found");
        }
        try {
            return ConfigFactory.parseFile(file, com.typesafe.config.ConfigParseOptions.defaults().setAllowMissing(false));
        } catch (ConfigException e) {
            throw new InvalidConfigException("malformed config: " + oneLine(e));
        }
    }

    /** A config problem as one line (Typesafe Config messages already start with the origin "file: line:"). */
    public static String oneLine(ConfigException e) {
        return e.getMessage().replace('\n', ' ');
    }

    /** Throws {@link InvalidConfigException} for the first problem of {@code root}'s {@code cohort} keys. */
    public void validate(Config root) {
        if (!root.hasPath("cohort")) {
            return;
        }
        ConfigValue cohort = root.getValue("cohort");
        if (cohort.valueType() != ConfigValueType.OBJECT) {
            throw new InvalidConfigException("config key cohort" + where(cohort.origin()) + " must be an object");
        }
        walk("", (ConfigObject) cohort);
    }

    private void walk(String prefix, ConfigObject object) {
        List<String> keys = new ArrayList<>(object.keySet());
        keys.sort(Comparator.naturalOrder());
        for (String key : keys) {
            String path = prefix.isEmpty() ? quote(key) : prefix + "." + quote(key);
            if (path.equals("config") || open.contains(path)) {
                continue;
            }
            ConfigValue value = object.get(key);
            String full = "cohort." + path;
            if (!schema.hasPathOrNull(full)) {
                if (value.valueType() == ConfigValueType.OBJECT && isPrefixOfKnown(path)) {
                    walk(path, (ConfigObject) value);
                    continue;
                }
                String leaf = value.valueType() == ConfigValueType.OBJECT ? leaves(path, (ConfigObject) value).getFirst() : path;
                throw new InvalidConfigException("unknown config key cohort." + leaf + where(value.origin()) + nearest(leaf));
            }
            ConfigValue expected = schema.getValue(full);
            if (expected.valueType() == ConfigValueType.OBJECT) {
                if (value.valueType() != ConfigValueType.OBJECT) {
                    throw new InvalidConfigException("config key " + full + " = " + render(value) + where(value.origin())
                            + " must be an object (a section of keys)");
                }
                walk(path, (ConfigObject) value);
                continue;
            }
            checkValue(full, path, value, expected);
        }
    }

    private void checkValue(String full, String path, ConfigValue value, ConfigValue expected) {
        if (value.valueType() == ConfigValueType.NULL || expected.valueType() == ConfigValueType.NULL) {
            return;
        }
        String problem = switch (expected.valueType()) {
            case BOOLEAN -> converts(value, c -> c.getBoolean("v")) ? null : "is not a flag (on/off, true/false)";
            case NUMBER -> converts(value, c -> c.getNumber("v")) ? null : "is not a number";
            case LIST -> value.valueType() == ConfigValueType.LIST ? null : "is not a list ([a, b])";
            case OBJECT -> value.valueType() == ConfigValueType.OBJECT ? null : "must be an object";
            case STRING -> stringProblem(value, expected);
            default -> null;
        };
        if (problem == null && choices.get(path) instanceof List<?> allowed) {
            String given = String.valueOf(value.unwrapped());
            boolean ok = allowed.stream().anyMatch(a -> String.valueOf(a).equalsIgnoreCase(given.trim()));
            if (!ok) {
                problem = "must be one of " + String.join(", ", allowed.stream().map(String::valueOf).toList());
            }
        }
        if (problem != null) {
            throw new InvalidConfigException("config key " + full + " = " + render(value) + where(value.origin()) + " "
                    + problem);
        }
    }

    /** A default written as a duration or a size asks for one; a plain word allows any word. */
    private static String stringProblem(ConfigValue value, ConfigValue expected) {
        if (value.valueType() == ConfigValueType.OBJECT || value.valueType() == ConfigValueType.LIST) {
            return "must be a single value";
        }
        boolean duration = converts(expected, c -> c.getDuration("v"));
        boolean bytes = converts(expected, c -> c.getBytes("v"));
        if (!duration && !bytes) {
            return null;
        }
        if ((duration && converts(value, c -> c.getDuration("v"))) || (bytes && converts(value, c -> c.getBytes("v")))) {
            return null;
        }
        String example = String.valueOf(expected.unwrapped());
        return duration ? "is not a duration (e.g. " + example + ")" : "is not a size (e.g. " + example + ")";
    }

    private interface Read {
        Object apply(Config c);
    }

    private static boolean converts(ConfigValue value, Read read) {
        try {
            read.apply(ConfigFactory.empty().withValue("v", value));
            return true;
        } catch (ConfigException e) {
            return false;
        }
    }

    private boolean isPrefixOfKnown(String path) {
        return knownPaths.stream().anyMatch(p -> p.startsWith(path + "."));
    }

    /** "; did you mean cohort.collective.timeout?" for the known key nearest to {@code path}. */
    private String nearest(String path) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String known : knownPaths) {
            int d = levenshtein(path, known);
            if (d < bestDistance) {
                bestDistance = d;
                best = known;
            }
        }
        return best == null ? "" : "; did you mean cohort." + best + "?";
    }

    private static List<String> leaves(String prefix, ConfigObject object) {
        List<String> out = new ArrayList<>();
        object.toConfig().entrySet().forEach(e -> out.add(prefix + "." + e.getKey()));
        out.sort(Comparator.naturalOrder());
        return out.isEmpty() ? List.of(prefix) : out;
    }

    static int levenshtein(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] t = previous;
            previous = current;
            current = t;
        }
        return previous[b.length()];
    }

    private static String render(ConfigValue value) {
        return value.render(com.typesafe.config.ConfigRenderOptions.concise());
    }

    /** " (conf/x.conf: 3)", " (system properties)", or nothing where the origin is unknown. */
    private static String where(ConfigOrigin origin) {
        if (origin == null) {
            return "";
        }
        if (origin.filename() != null) {
            return " (" + origin.filename() + (origin.lineNumber() > 0 ? ": " + origin.lineNumber() : "") + ")";
        }
        if (origin.resource() != null) {
            return " (" + origin.resource() + (origin.lineNumber() > 0 ? ": " + origin.lineNumber() : "") + ")";
        }
        return " (" + origin.description() + ")";
    }

    private static String quote(String key) {
        return key.contains(".") ? "\"" + key + "\"" : key;
    }
}
