package io.cohort.cluster;

import io.cohort.core.CohortException;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;

/**
 * Picks the UDP port a node's leader receives on (or sends from) for one group: the first free one of a
 * configured range, or any. The port stays bound by this node until the group's transport takes it over
 * ({@link Reservation#release()} right before Aeron binds it): a probe that let go at once left the port free
 * for another node of the same host to probe too, between the coordinator's prepare and open.
 */
final class TransportPorts {
    private TransportPorts() {
    }

    /** A UDP port held by a bound socket until {@link #release()}. */
    static final class Reservation implements AutoCloseable {
        private final int port;
        private DatagramSocket socket;

        private Reservation(DatagramSocket socket) {
            this.socket = socket;
            this.port = socket.getLocalPort();
        }

        int port() {
            return port;
        }

        /** Lets the port go so that the group's transport can bind it; idempotent. */
        synchronized void release() {
            if (socket != null) {
                socket.close();
                socket = null;
            }
        }

        @Override
        public void close() {
            release();
        }
    }

    /**
     * A port free on {@code host} now, held: {@code first == 0} any (ephemeral); else the first of
     * {@code first .. first+span-1} that is neither in {@code taken} (this node's open groups) nor bound.
     */
    static Reservation reserve(String host, int first, int span, int[] taken) {
        if (first == 0) {
            Reservation r = bind(host, 0);
            if (r == null) {
                throw new CohortException("cannot bind a UDP port on " + host);
            }
            return r;
        }
        for (int p = first; p < first + span; p++) {
            int port = p;
            if (java.util.Arrays.stream(taken).noneMatch(t -> t == port)) {
                Reservation r = bind(host, port);
                if (r != null) {
                    return r;
                }
            }
        }
        throw new CohortException("every UDP port of " + host + ":" + first + ".." + (first + span - 1)
                + " is in use (cohort.cluster.transport.port / port-span)");
    }

    private static Reservation bind(String host, int port) {
        DatagramSocket s = null;
        try {
            s = new DatagramSocket(null);
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress(host, port));
            return new Reservation(s);
        } catch (IOException e) {
            if (s != null) {
                s.close();
            }
            if (port == 0) {
                throw new CohortException("cannot bind a UDP port on " + host + ": " + e.getMessage());
            }
            return null;
        }
    }
}
