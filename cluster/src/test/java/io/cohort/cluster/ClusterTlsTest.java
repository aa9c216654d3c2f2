package io.cohort.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cohort.cluster.tls}: what one switch sets in Pekko, and the one-line errors for bad stores and passwords. */
class ClusterTlsTest {

    @TempDir
    static Path dir;
    private static Path store;

    @BeforeAll
    static void makeStore() throws Exception {
        store = dir.resolve("member.p12");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-J-XX:TieredStopAtLevel=1", "-genkeypair", "-alias", "member", "-dname", "CN=member", "-keyalg", "EC",
                "-groupname", "secp256r1", "-keystore", store.toString(), "-storetype", "PKCS12",
                "-storepass:env", "PW").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("PW", "secret-pw");
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
    }

    private static Config conf(String tls) {
        return ClusterSettings.withDefaults(ConfigFactory.parseString("cohort.cluster.tls { " + tls + " }"));
    }

    private static String stores(String password) {
        String path = store.toString().replace("\\", "/");
        return "enabled = on, key-store = \"" + path + "\", trust-store = \"" + path + "\", key-store-password = \""
                + password + "\", trust-store-password = \"" + password + "\"";
    }

    @Test
    void offByDefaultAndOneSwitchPutsRemotingOnMutualTls() {
        Config plain = conf("");
        assertFalse(ClusterTls.from(plain).enabled());
        assertEquals("tcp", plain.getString("pekko.remote.artery.transport"));
        Config tls = conf(stores("secret-pw"));
        assertEquals("tls-tcp", tls.getString("pekko.remote.artery.transport"));
        assertEquals(ClusterTlsEngineProvider.class.getName(),
                tls.getString("pekko.remote.artery.ssl.ssl-engine-provider"));
        Config engine = tls.getConfig("pekko.remote.artery.ssl.config-ssl-engine");
        assertTrue(engine.getBoolean("require-mutual-authentication"));
        assertEquals("TLSv1.3", engine.getString("protocol"));
        assertEquals("secret-pw", engine.getString("key-password"), "the key's password defaults to the store's");
        assertEquals(store.toString(), engine.getString("key-store"));
    }

    @Test
    void badStoresAndPasswordsAreOneLineErrorsNamingTheKey() {
        ClusterException missing = assertThrows(ClusterException.class,
                () -> conf("enabled = on, key-store = \"/no/such.p12\", trust-store = \"/no/such.p12\""));
        assertEquals("cohort.cluster.tls.key-store /no/such.p12 not found", missing.getMessage());
        ClusterException unset = assertThrows(ClusterException.class, () -> conf("enabled = on"));
        assertEquals("cohort.cluster.tls.key-store is not set (cohort.cluster.tls.enabled = on needs it)",
                unset.getMessage());
        ClusterException empty = assertThrows(ClusterException.class, () -> conf(stores("")));
        assertEquals("cohort.cluster.tls.key-store-password is empty: set it in the config file or in the environment "
                + "(COHORT_TLS_KEY_STORE_PASSWORD)", empty.getMessage());
        ClusterException wrong = assertThrows(ClusterException.class, () -> conf(stores("wrong-pw")));
        assertEquals("cohort.cluster.tls.key-store " + store + " cannot be opened: wrong password "
                + "(cohort.cluster.tls.key-store-password)", wrong.getMessage());
    }

    @Test
    void aPasswordOnTheCommandLineIsRefused() {
        System.setProperty("cohort.cluster.tls.trust-store-password", "visible-in-ps");
        try {
            ClusterException e = assertThrows(ClusterException.class, () -> conf(stores("secret-pw")));
            assertTrue(e.getMessage().startsWith("cohort.cluster.tls.trust-store-password was given on the command line"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("COHORT_TLS_TRUST_STORE_PASSWORD"), e.getMessage());
        } finally {
            System.clearProperty("cohort.cluster.tls.trust-store-password");
        }
    }
}
