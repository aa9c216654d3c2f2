package io.cohort.cli.cluster;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.List;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * Pekko's warnings that every healthy cluster produces go to DEBUG (logger {@code io.cohort.cluster.noise}):
 * connections refused and handshakes timing out while the seeds start, and the connections aborted or
 * quarantined when a member leaves (each coordinator command is one). Anything else from Pekko is untouched.
 */
public final class ClusterNoiseFilter extends TurboFilter {

    private static final org.slf4j.Logger NOISE = LoggerFactory.getLogger("io.cohort.cluster.noise");

    /** What the expected warnings say (seeds starting; a member that left). */
    static final List<String> EXPECTED = List.of(
            "Connection refused",
            "HandshakeTimeoutException",
            "OutboundStreamStopQuarantinedSignal",
            "OutboundStreamStopIdleSignal",
            "Connection reset",
            "Broken pipe",
            "The connection closed",
            "Cluster member removed, previous status [Exiting]",
            "Cluster member removed, previous status [Leaving]",
            "Couldn't join seed nodes after");

    @Override
    public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params,
                              Throwable t) {
        if (level != Level.WARN || format == null || !logger.getName().startsWith("org.apache.pekko")) {
            return FilterReply.NEUTRAL;
        }
        String text = params == null || params.length == 0 ? format
                : org.slf4j.helpers.MessageFormatter.arrayFormat(format, params).getMessage();
        String cause = t == null ? "" : String.valueOf(t);
        for (String expected : EXPECTED) {
            if (text.contains(expected) || cause.contains(expected)) {
                NOISE.debug("{}: {}", logger.getName(), text);
                return FilterReply.DENY;
            }
        }
        return FilterReply.NEUTRAL;
    }
}
