package io.cohort.cluster;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.remote.artery.tcp.ConfigSSLEngineProvider;

/**
 * Pekko's {@link ConfigSSLEngineProvider} (key store, trust store, mutual authentication) with trust managers
 * that say, in one line, whose certificate they refused and why: a member that is not signed by the cluster's
 * CA is named on both sides of the refused connection, instead of only as a failed handshake; its engines
 * ({@link ReportingSslEngine}) say when the peer refused this member's certificate or did not speak TLS.
 */
public final class ClusterTlsEngineProvider extends ConfigSSLEngineProvider {

    public ClusterTlsEngineProvider(ActorSystem system) {
        super(system);
    }

    @Override
    public SSLEngine createServerSSLEngine(String hostname, int port) {
        return new ReportingSslEngine(super.createServerSSLEngine(hostname, port), null, 0);
    }

    @Override
    public SSLEngine createClientSSLEngine(String hostname, int port) {
        return new ReportingSslEngine(super.createClientSSLEngine(hostname, port), hostname, port);
    }

    @Override
    public TrustManager[] trustManagers() {
        TrustManager[] managers = super.trustManagers();
        for (int i = 0; i < managers.length; i++) {
            if (managers[i] instanceof X509ExtendedTrustManager x) {
                managers[i] = new Logging(x, SSLTrustStore());
            }
        }
        return managers;
    }

    /** Delegates every check; logs a refusal with the peer's subject and issuer. */
    private static final class Logging extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager delegate;
        private final String trustStore;

        Logging(X509ExtendedTrustManager delegate, String trustStore) {
            this.delegate = delegate;
            this.trustStore = trustStore;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            try {
                delegate.checkClientTrusted(chain, authType, engine);
            } catch (CertificateException e) {
                ReportingSslEngine.say("refused a connecting member: " + why(chain, e)); // (a server engine's peer is unknown)
                throw e;
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            try {
                delegate.checkServerTrusted(chain, authType, engine);
            } catch (CertificateException e) {
                ReportingSslEngine.say("refused the member this one connected to" + peer(engine) + ": " + why(chain, e));
                throw e;
            }
        }

        private String why(X509Certificate[] chain, CertificateException e) {
            String subject = chain.length == 0 ? "(no certificate)" : "'" + chain[0].getSubjectX500Principal().getName()
                    + "' issued by '" + chain[0].getIssuerX500Principal().getName() + "'";
            return "its certificate " + subject + " is not signed by a CA of the trust store " + trustStore
                    + " (" + e.getMessage() + ")";
        }

        private static String peer(SSLEngine engine) {
            return engine == null || engine.getPeerHost() == null ? ""
                    : " (" + engine.getPeerHost() + ":" + engine.getPeerPort() + ")";
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate.checkClientTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate.checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return delegate.getAcceptedIssuers();
        }
    }
}
