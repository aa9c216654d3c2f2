package io.cohort.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.CohortException;
import java.net.BindException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class TransportPortsTest {

    private static final String HOST = "127.0.0.1";

    @Test
    void aReservedPortStaysBoundUntilReleasedSoNoOtherProcessCanProbeIt() throws Exception {
        TransportPorts.Reservation r = TransportPorts.reserve(HOST, 0, 0, new int[0]);
        assertTrue(r.port() > 0);
        assertThrows(BindException.class, () -> new DatagramSocket(new InetSocketAddress(HOST, r.port())).close());
        r.release();
        r.release(); // idempotent
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(HOST, r.port()))) {
            assertEquals(r.port(), s.getLocalPort()); // what Aeron does next
        }
    }

    @Test
    void twoReservationsFromAnyPortNeverCoincide() {
        try (TransportPorts.Reservation a = TransportPorts.reserve(HOST, 0, 0, new int[0]);
             TransportPorts.Reservation b = TransportPorts.reserve(HOST, 0, 0, new int[0])) {
            assertNotEquals(a.port(), b.port());
        }
    }

    @Test
    void aRangeSkipsTakenAndBoundPortsAndNamesItselfWhenFull() throws Exception {
        int first;
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(HOST, 0))) {
            first = probe.getLocalPort();
        }
        try (DatagramSocket bound = new DatagramSocket(new InetSocketAddress(HOST, first + 1));
             TransportPorts.Reservation r = TransportPorts.reserve(HOST, first, 3, new int[] {first})) {
            assertEquals(first + 2, r.port());
            CohortException full = assertThrows(CohortException.class,
                    () -> TransportPorts.reserve(HOST, first, 3, new int[] {first}));
            assertEquals("every UDP port of " + HOST + ":" + first + ".." + (first + 2)
                    + " is in use (cohort.cluster.transport.port / port-span)", full.getMessage());
        } catch (BindException busy) {
            // first+1 belongs to someone else on this shared machine: nothing to check here
            org.junit.jupiter.api.Assumptions.abort("port " + (first + 1) + " is in use");
        }
    }
}
