package io.cohort.cluster;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pekko's SSL engine, unchanged, except that a handshake failing for a reason the other side gave is said in one
 * line: the peer refused this member's certificate (an alert), or a connection was not TLS at all (a member with
 * TLS off). Refusals of the peer's certificate are said by {@link ClusterTlsEngineProvider}'s trust managers.
 * Pekko reconnects every second or so: each line is repeated at most every 10 s per peer and reason.
 */
final class ReportingSslEngine extends SSLEngine {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterTlsEngineProvider.class);
    private static final long QUIET_NANOS = 10_000_000_000L;
    private static final Map<String, Long> LAST_SAID = new ConcurrentHashMap<>();

    private final SSLEngine delegate;
    private final String peer;
    private boolean said;

    ReportingSslEngine(SSLEngine delegate, String peerHost, int peerPort) {
        super(peerHost, peerPort);
        this.delegate = delegate;
        this.peer = peerHost == null ? "" : " (" + peerHost + ":" + peerPort + ")";
    }

    @Override
    public SSLEngineResult wrap(ByteBuffer[] srcs, int offset, int length, ByteBuffer dst) throws SSLException {
        try {
            return delegate.wrap(srcs, offset, length, dst);
        } catch (SSLException e) {
            report(e);
            throw e;
        }
    }

    @Override
    public SSLEngineResult unwrap(ByteBuffer src, ByteBuffer[] dsts, int offset, int length) throws SSLException {
        try {
            return delegate.unwrap(src, dsts, offset, length);
        } catch (SSLException e) {
            report(e);
            throw e;
        }
    }

    private void report(SSLException e) {
        if (said) {
            return;
        }
        said = true;
        String why = String.valueOf(e.getMessage());
        String line;
        if (why.contains("Received fatal alert")) {
            line = (getUseClientMode() ? "the member this one connected to" + peer : "a connecting member")
                    + " refused this member's certificate (" + why + "): is it signed by the cluster's CA?";
        } else if (!getUseClientMode() && why.contains("Empty client certificate chain")) {
            // TLS 1.3 names the trusted CAs: a member whose certificate another CA signed sends none at all
            line = "refused a connecting member: it presented no certificate signed by a CA of this member's trust "
                    + "store (" + why + ")";
        } else if (!getUseClientMode() && (why.contains("Unsupported or unrecognized SSL message")
                || why.contains("plaintext"))) {
            line = "refused a connection that is not TLS (" + why + "): a member with cohort.cluster.tls.enabled = off?";
        } else {
            return; // our own trust managers said why, or Pekko will
        }
        say(line);
    }

    /** Logs "TLS: line" unless the same line was said in the last 10 s. */
    static void say(String line) {
        long now = System.nanoTime();
        Long last = LAST_SAID.get(line);
        if (last == null || now - last > QUIET_NANOS) {
            LAST_SAID.put(line, now);
            LOG.warn("TLS: {}", line);
        }
    }

    // ---- everything else: the delegate's ------------------------------------------------------------------

    @Override
    public Runnable getDelegatedTask() {
        return delegate.getDelegatedTask();
    }

    @Override
    public void closeInbound() throws SSLException {
        delegate.closeInbound();
    }

    @Override
    public boolean isInboundDone() {
        return delegate.isInboundDone();
    }

    @Override
    public void closeOutbound() {
        delegate.closeOutbound();
    }

    @Override
    public boolean isOutboundDone() {
        return delegate.isOutboundDone();
    }

    @Override
    public String[] getSupportedCipherSuites() {
        return delegate.getSupportedCipherSuites();
    }

    @Override
    public String[] getEnabledCipherSuites() {
        return delegate.getEnabledCipherSuites();
    }

    @Override
    public void setEnabledCipherSuites(String[] suites) {
        delegate.setEnabledCipherSuites(suites);
    }

    @Override
    public String[] getSupportedProtocols() {
        return delegate.getSupportedProtocols();
    }

    @Override
    public String[] getEnabledProtocols() {
        return delegate.getEnabledProtocols();
    }

    @Override
    public void setEnabledProtocols(String[] protocols) {
        delegate.setEnabledProtocols(protocols);
    }

    @Override
    public SSLSession getSession() {
        return delegate.getSession();
    }

    @Override
    public SSLSession getHandshakeSession() {
        return delegate.getHandshakeSession();
    }

    @Override
    public void beginHandshake() throws SSLException {
        delegate.beginHandshake();
    }

    @Override
    public SSLEngineResult.HandshakeStatus getHandshakeStatus() {
        return delegate.getHandshakeStatus();
    }

    @Override
    public void setUseClientMode(boolean mode) {
        delegate.setUseClientMode(mode);
    }

    @Override
    public boolean getUseClientMode() {
        return delegate.getUseClientMode();
    }

    @Override
    public void setNeedClientAuth(boolean need) {
        delegate.setNeedClientAuth(need);
    }

    @Override
    public boolean getNeedClientAuth() {
        return delegate.getNeedClientAuth();
    }

    @Override
    public void setWantClientAuth(boolean want) {
        delegate.setWantClientAuth(want);
    }

    @Override
    public boolean getWantClientAuth() {
        return delegate.getWantClientAuth();
    }

    @Override
    public void setEnableSessionCreation(boolean flag) {
        delegate.setEnableSessionCreation(flag);
    }

    @Override
    public boolean getEnableSessionCreation() {
        return delegate.getEnableSessionCreation();
    }

    @Override
    public SSLParameters getSSLParameters() {
        return delegate.getSSLParameters();
    }

    @Override
    public void setSSLParameters(SSLParameters params) {
        delegate.setSSLParameters(params);
    }

    @Override
    public String getApplicationProtocol() {
        return delegate.getApplicationProtocol();
    }

    @Override
    public String getHandshakeApplicationProtocol() {
        return delegate.getHandshakeApplicationProtocol();
    }

    @Override
    public void setHandshakeApplicationProtocolSelector(BiFunction<SSLEngine, List<String>, String> selector) {
        delegate.setHandshakeApplicationProtocolSelector(selector);
    }

    @Override
    public BiFunction<SSLEngine, List<String>, String> getHandshakeApplicationProtocolSelector() {
        return delegate.getHandshakeApplicationProtocolSelector();
    }
}
