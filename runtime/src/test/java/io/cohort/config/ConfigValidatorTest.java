package io.cohort.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.plan.Algorithm;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigValidatorTest {

    private static String problem(String hocon) {
        Config c = ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference()).resolve();
        return assertThrows(InvalidConfigException.class, () -> ConfigValidator.check(c)).getMessage();
    }

    @Test
    void theDefaultsAndAConfigWithoutCohortKeysPass() {
        assertDoesNotThrow(() -> ConfigValidator.check(ConfigFactory.load()));
        assertDoesNotThrow(() -> ConfigValidator.check(ConfigFactory.parseString("other.key = 1")));
        assertDoesNotThrow(() -> ConfigValidator.check(ConfigFactory.parseString(
                "cohort { collective.timeout = 5s, pool.capacity = 256M, backend.kind = NATIVE, "
                        + "algorithm.chunk-elements = \"4096\", backend.auto-prefers-nccl = on }")));
    }

    @Test
    void anUnknownKeyNamesTheNearestValidOne() {
        assertEquals("unknown config key cohort.colective.timeout (String: 1); did you mean cohort.collective.timeout?",
                problem("cohort.colective.timeout = 5s"));
        assertEquals("unknown config key cohort.backend.knd (String: 1); did you mean cohort.backend.kind?",
                problem("cohort { backend { knd = p2p } }"));
    }

    @Test
    void aWronglyTypedValueIsOneLine() {
        assertEquals("config key cohort.collective.timeout = \"fast\" (String: 1) is not a duration (e.g. 30s)",
                problem("cohort.collective.timeout = fast"));
        assertEquals("config key cohort.algorithm.default-arity = \"four\" (String: 1) is not a number",
                problem("cohort.algorithm.default-arity = four"));
        assertEquals("config key cohort.backend.auto-prefers-nccl = \"maybe\" (String: 1) is not a flag (on/off, true/false)",
                problem("cohort.backend.auto-prefers-nccl = maybe"));
        assertEquals("config key cohort.algorithm.rules = \"ring\" (String: 1) is not a list ([a, b])",
                problem("cohort.algorithm.rules = ring"));
        assertEquals("config key cohort.backend = \"p2p\" (String: 1) must be an object (a section of keys)",
                problem("cohort.backend = p2p"));
    }

    @Test
    void anInvalidChoiceListsTheValidOnes() {
        assertEquals("config key cohort.backend.kind = \"nvlink\" (String: 1) must be one of auto, p2p, native, nccl",
                problem("cohort.backend.kind = nvlink"));
    }

    @Test
    void theChoicesAreTheValuesTheParsersAccept() {
        Config choices = ConfigFactory.defaultReference().getConfig("cohort.config.choices");
        assertEquals(Arrays.stream(BackendKind.values()).map(BackendKind::cliName).toList(),
                choices.getStringList("\"backend.kind\""));
        List<String> algorithms = Arrays.stream(Algorithm.values()).map(Algorithm::cliName).toList();
        assertEquals(algorithms, choices.getStringList("\"algorithm.default\""));
        assertEquals(algorithms, choices.getStringList("\"algorithm.force\"").subList(1, algorithms.size() + 1));
    }

    @Test
    void malformedHoconIsOneLineWithFileAndLine(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.conf");
        Files.writeString(file, "cohort {\n  collective.timeout = 5s\n  backend { kind = p2p\n");
        String message = assertThrows(InvalidConfigException.class, () -> ConfigValidator.parseFile(file.toFile()))
                .getMessage();
        assertEquals("malformed config: " + file + ": 4: expecting a close parentheses ')' here, not: end of file",
                message);
        assertEquals("config file no/such.conf not found",
                assertThrows(InvalidConfigException.class, () -> ConfigValidator.parseFile(new File("no/such.conf")))
                        .getMessage());
    }

    @Test
    void levenshteinCountsEdits() {
        assertEquals(0, ConfigValidator.levenshtein("kind", "kind"));
        assertEquals(1, ConfigValidator.levenshtein("colective", "collective"));
        assertEquals(3, ConfigValidator.levenshtein("kitten", "sitting"));
    }
}
