package io.cohort.transport;

import io.cohort.core.CohortException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Which UDP sources a rank may hear: only the address its group announced for each rank. With
 * {@code cohort.transport.sources} that is the rank's {@code host:port}; without, its endpoint's host (any
 * port). Aeron names the sender of each image ({@code Image.sourceIdentity()}, "ip:port"); a HELLO from any
 * other source is never bound, so its frames are dropped. ipc needs no filter: only processes that can open
 * the driver's directory take part.
 */
final class SourceFilter {

    private final boolean udp;
    private final List<String> hosts = new ArrayList<>();
    private final List<Integer> ports = new ArrayList<>();

    SourceFilter(TransportConfig config) {
        this.udp = config.channel() == TransportConfig.Channel.UDP;
        if (!udp) {
            return;
        }
        for (int r = 0; r < config.size(); r++) {
            String announced = config.sources().isEmpty() ? config.endpoints().get(r) : config.sources().get(r);
            hosts.add(address(host(announced)));
            ports.add(config.sources().isEmpty() ? -1 : port(announced));
        }
    }

    /** Whether {@code sourceIdentity} ("ip:port", as Aeron reports it) is what was announced for {@code rank}. */
    boolean announced(int rank, String sourceIdentity) {
        if (!udp) {
            return true;
        }
        int colon = sourceIdentity.lastIndexOf(':');
        if (colon < 0) {
            return false;
        }
        String host = sourceIdentity.substring(0, colon).replace("[", "").replace("]", "");
        int port;
        try {
            port = Integer.parseInt(sourceIdentity.substring(colon + 1));
        } catch (NumberFormatException e) {
            return false;
        }
        return hosts.get(rank).equals(address(host)) && (ports.get(rank) < 0 || ports.get(rank) == port);
    }

    /** What was announced for {@code rank}, for messages. */
    String expected(int rank) {
        return !udp ? "ipc" : hosts.get(rank) + ":" + (ports.get(rank) < 0 ? "*" : ports.get(rank));
    }

    /** The host part of "host:port" (IPv6 in brackets). */
    static String host(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
        return host.replace("[", "").replace("]", "");
    }

    private static int port(String hostPort) {
        try {
            return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
        } catch (RuntimeException e) {
            throw new CohortException("cohort.transport.sources: '" + hostPort + "' is not host:port");
        }
    }

    private static String address(String host) {
        try {
            return InetAddress.getByName(host).getHostAddress();
        } catch (UnknownHostException e) {
            throw new CohortException("cohort.transport: unknown host '" + host + "'");
        }
    }
}
