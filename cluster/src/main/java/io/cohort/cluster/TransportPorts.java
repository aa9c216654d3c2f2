package io.cohort.cluster;

import io.cohort.core.CohortException;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;

/** Picks the UDP port a node's leader receives on for one group: first free one of a configured range, or any. */
final class TransportPorts {
    private TransportPorts() {
    }

    /**
     * A port free on {@code host} now: {@code first == 0} any (ephemeral); else the first of
     * {@code first .. first+span-1} that is neither in {@code taken} (this node's open groups) nor bound.
     */
    static int reserve(String host, int first, int span, int[] taken) {
        if (first == 0) {
            return probe(host, 0);
        }
        for (int p = first; p < first + span; p++) {
            int port = p;
            if (java.util.Arrays.stream(taken).noneMatch(t -> t == port) && probe(host, port) == port) {
                return port;
            }
        }
        throw new CohortException("every UDP port of " + host + ":" + first + ".." + (first + span - 1)
                + " is in use (cohort.cluster.transport.port / port-span)");
    }

    private static int probe(String host, int port) {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(host, port))) {
            return s.getLocalPort();
        } catch (IOException e) {
            if (port == 0) {
                throw new CohortException("cannot bind a UDP port on " + host + ": " + e.getMessage());
            }
            return -1;
        }
    }
}
