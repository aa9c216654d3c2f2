package io.cohort.cli.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.core.spi.FilterReply;
import org.junit.jupiter.api.Test;

/** The warnings of a healthy cluster go to DEBUG; other warnings, errors and Cohort's own lines stay. */
class ClusterNoiseFilterTest {

    private final LoggerContext context = new LoggerContext();
    private final ClusterNoiseFilter filter = new ClusterNoiseFilter();

    private FilterReply decide(String logger, Level level, String message) {
        Logger l = context.getLogger(logger);
        return filter.decide(null, l, level, message, null, null);
    }

    @Test
    void seedsStartingAndMembersLeavingAreDebug() {
        assertEquals(FilterReply.DENY, decide("org.apache.pekko.stream.Materializer", Level.WARN,
                "[outbound connection to [pekko://cohort@127.0.0.1:2551], message stream] Upstream failed, cause: "
                        + "StreamTcpException: Tcp command [Connect(127.0.0.1/<unresolved>:2551,None,List(),Some(5000 "
                        + "milliseconds),true)] failed because of java.net.ConnectException: Connection refused"));
        assertEquals(FilterReply.DENY, decide("org.apache.pekko.remote.artery.Association", Level.WARN,
                "Outbound control stream to [pekko://cohort@127.0.0.1:2551] failed. Restarting it. org.apache.pekko"
                        + ".remote.artery.OutboundHandshake$HandshakeTimeoutException: Handshake with [pekko://cohort@"
                        + "127.0.0.1:2551] did not complete within 20000 ms"));
        assertEquals(FilterReply.DENY, decide("org.apache.pekko.stream.Materializer", Level.WARN,
                "[outbound connection to [pekko://ct@127.0.0.1:33299], control stream] Upstream failed, cause: "
                        + "Association$OutboundStreamStopQuarantinedSignal$: "));
    }

    @Test
    void otherWarningsErrorsAndCohortsOwnLinesStay() {
        assertEquals(FilterReply.NEUTRAL, decide("org.apache.pekko.cluster.sbr.SplitBrainResolver", Level.WARN,
                "SBR took decision DownUnreachable and is downing [pekko://ct@127.0.0.1:44085]"));
        assertEquals(FilterReply.NEUTRAL, decide("org.apache.pekko.stream.Materializer", Level.ERROR,
                "Connection refused"));
        assertEquals(FilterReply.NEUTRAL, decide("io.cohort.cluster.NodeGroup", Level.WARN, "Connection refused"));
    }
}
