package io.cohort.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code cohort.cluster.tls}: one switch that puts Pekko remoting on TLS with mutual authentication
 * ({@code tls-tcp}). Every member presents the certificate in its key store and accepts only peers whose
 * certificate a CA in its trust store signed. Passwords come from the config file or the environment
 * ({@code COHORT_TLS_KEY_STORE_PASSWORD}, {@code COHORT_TLS_TRUST_STORE_PASSWORD}), never from the command
 * line: a password given as a {@code -D} system property is refused. Stores are checked here, at start, so a
 * wrong path or password is one line rather than a handshake that fails later.
 */
public record ClusterTls(boolean enabled, String keyStore, String keyStorePassword, String keyPassword,
                         String trustStore, String trustStorePassword) {

    static final String PREFIX = "cohort.cluster.tls.";
    private static final List<String> PASSWORD_KEYS = List.of("key-store-password", "key-password",
            "trust-store-password");

    public static ClusterTls from(Config root) {
        Config c = root.getConfig("cohort.cluster.tls");
        String storePassword = c.getString("key-store-password");
        String keyPassword = c.getString("key-password");
        return new ClusterTls(c.getBoolean("enabled"), c.getString("key-store"), storePassword,
                keyPassword.isEmpty() ? storePassword : keyPassword, c.getString("trust-store"),
                c.getString("trust-store-password"));
    }

    /**
     * {@code root} with Pekko's TLS transport set up from {@code cohort.cluster.tls} when it is enabled,
     * else {@code root} unchanged. Throws a {@link ClusterException} naming the key when a store is missing,
     * a password is empty or wrong, or a password came from the command line.
     */
    public static Config configure(Config root) {
        for (String key : PASSWORD_KEYS) {
            if (System.getProperty(PREFIX + key) != null) {
                throw new ClusterException(PREFIX + key + " was given on the command line (-D), where other users "
                        + "of the host can read it: set it in the config file or in the environment instead ("
                        + envOf(key) + ")");
            }
        }
        ClusterTls tls = from(root);
        if (!tls.enabled()) {
            return root;
        }
        tls.check();
        String ssl = "pekko.remote.artery.ssl.config-ssl-engine.";
        Map<String, Object> tlsTcp = new HashMap<>(); // keys are paths
        tlsTcp.put("pekko.remote.artery.transport", "tls-tcp");
        tlsTcp.put("pekko.remote.artery.ssl.ssl-engine-provider", ClusterTlsEngineProvider.class.getName());
        tlsTcp.put(ssl + "key-store", tls.keyStore());
        tlsTcp.put(ssl + "key-store-password", tls.keyStorePassword());
        tlsTcp.put(ssl + "key-password", tls.keyPassword());
        tlsTcp.put(ssl + "trust-store", tls.trustStore());
        tlsTcp.put(ssl + "trust-store-password", tls.trustStorePassword());
        tlsTcp.put(ssl + "protocol", "TLSv1.3");
        tlsTcp.put(ssl + "require-mutual-authentication", true);
        // members are identified by the CA that signed them, not by host name (addresses may be IPs)
        tlsTcp.put(ssl + "hostname-verification", false);
        return ConfigFactory.parseMap(tlsTcp).withFallback(root);
    }

    private void check() {
        KeyStore keys = open(keyStore, "key-store", keyStorePassword, "key-store-password");
        try {
            if (Collections.list(keys.aliases()).stream().noneMatch(a -> isKey(keys, a))) {
                throw new ClusterException(PREFIX + "key-store " + keyStore + " holds no private key: it needs this "
                        + "member's key and certificate (see docs/cluster.md, TLS)");
            }
        } catch (GeneralSecurityException e) {
            throw new ClusterException(PREFIX + "key-store " + keyStore + " cannot be read: " + e.getMessage());
        }
        KeyStore trusted = open(trustStore, "trust-store", trustStorePassword, "trust-store-password");
        try {
            if (trusted.size() == 0) {
                throw new ClusterException(PREFIX + "trust-store " + trustStore + " is empty: it needs the cluster's "
                        + "CA certificate");
            }
        } catch (GeneralSecurityException e) {
            throw new ClusterException(PREFIX + "trust-store " + trustStore + " cannot be read: " + e.getMessage());
        }
    }

    private static boolean isKey(KeyStore store, String alias) {
        try {
            return store.isKeyEntry(alias);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static KeyStore open(String path, String key, String password, String passwordKey) {
        if (path.isBlank()) {
            throw new ClusterException(PREFIX + key + " is not set (cohort.cluster.tls.enabled = on needs it)");
        }
        File file = new File(path);
        if (!file.isFile()) {
            throw new ClusterException(PREFIX + key + " " + file.getAbsolutePath() + " not found");
        }
        if (password.isEmpty()) {
            throw new ClusterException(PREFIX + passwordKey + " is empty: set it in the config file or in the "
                    + "environment (" + envOf(passwordKey) + ")");
        }
        try {
            return KeyStore.getInstance(file, password.toCharArray()); // PKCS12 or JKS, detected
        } catch (IOException | GeneralSecurityException e) {
            String why = e.getCause() instanceof java.security.UnrecoverableKeyException
                    || String.valueOf(e.getMessage()).contains("password")
                    ? "wrong password (" + PREFIX + passwordKey + ")" : String.valueOf(e.getMessage());
            throw new ClusterException(PREFIX + key + " " + file.getAbsolutePath() + " cannot be opened: " + why);
        }
    }

    private static String envOf(String key) {
        return key.equals("trust-store-password") ? "COHORT_TLS_TRUST_STORE_PASSWORD" : "COHORT_TLS_KEY_STORE_PASSWORD";
    }
}
