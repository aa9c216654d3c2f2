package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The placement policy against stand-in streams whose hardware queue is known: what it keeps, replaces, closes
 * and leaves unchecked. The CUDA probe itself is {@link QueuePlacementTest}'s (gpu).
 */
class QueuePlacementPolicyTest {

    /** A stream on hardware queue {@code queue}; busy streams may not be probed. */
    static final class Stand {
        final int queue;
        boolean busy, closed;

        Stand(int queue) {
            this.queue = queue;
        }
    }

    /** A probe that knows every stand-in's queue and counts what it was asked. */
    static class Probe implements QueuePlacement.Probe<Stand> {
        int prepared, probes;
        final List<Stand> closed = new ArrayList<>();

        public void prepare() {
            prepared++;
        }

        public boolean checkable(Stand peer) {
            return !peer.closed && !peer.busy;
        }

        public int sharing(Stand fresh, List<Stand> peers) {
            probes++;
            return (int) peers.stream().filter(p -> p.queue == fresh.queue).count();
        }

        public void close(Stand s) {
            s.closed = true;
            closed.add(s);
        }
    }

    /** The driver handing out queues in the order given. */
    private static Supplier<Stand> queues(int... order) {
        Iterator<Integer> it = IntStream.of(order).iterator();
        return () -> new Stand(it.next());
    }

    @Test
    void aDeviceNotSharedHandsOutStreamsUnchecked() {
        Probe probe = new Probe();
        QueuePlacement<Stand> placement = new QueuePlacement<>("gpu", probe);
        Supplier<Stand> driver = queues(0, 0, 0);
        for (int i = 0; i < 3; i++) {
            placement.place(driver);
        }
        assertEquals(0, probe.prepared);
        assertEquals(0, probe.probes);
    }

    @Test
    void aStreamSharingAQueueIsSetAsideClosedAndReplaced() {
        Probe probe = new Probe();
        QueuePlacement<Stand> placement = new QueuePlacement<>("gpu", probe);
        placement.sharedBy(2);
        placement.sharedBy(2);
        assertEquals(1, probe.prepared, "readied once");
        Supplier<Stand> driver = queues(0, 0, 0, 1);
        Stand first = placement.place(driver);
        Stand second = placement.place(driver);
        assertEquals(0, first.queue);
        assertEquals(1, second.queue, "the two streams that landed on queue 0 were replaced");
        assertEquals(2, probe.closed.size());
        assertTrue(probe.closed.stream().allMatch(s -> s.queue == 0 && s != first));
        assertFalse(first.closed);
    }

    @Test
    void busyOrClosedStreamsAreNotProbedAndAClosedOneLeavesThePlacedSet() {
        Probe probe = new Probe();
        QueuePlacement<Stand> placement = new QueuePlacement<>("gpu", probe);
        placement.sharedBy(3);
        Supplier<Stand> driver = queues(0, 1, 0, 0);
        Stand a = placement.place(driver);
        Stand b = placement.place(driver);
        a.busy = true;   // its queue cannot be probed now: a third stream on queue 0 is taken as it comes
        Stand c = placement.place(driver);
        assertEquals(0, c.queue);
        a.busy = false;
        placement.closed(a);
        placement.closed(c);
        Stand d = placement.place(driver);   // queue 0 again, but only b (queue 1) is still placed
        assertEquals(0, d.queue);
        assertTrue(probe.closed.isEmpty());
        assertNotEquals(b.queue, d.queue);
    }

    @Test
    void aFailedCheckClosesTheNewStreamAndFailsTheCreation() {
        Probe probe = new Probe() {
            @Override
            public int sharing(Stand fresh, List<Stand> peers) {
                throw new IllegalStateException("cuda:0: stream did not finish within PT10S");
            }
        };
        QueuePlacement<Stand> placement = new QueuePlacement<>("gpu", probe);
        placement.sharedBy(2);
        Supplier<Stand> driver = queues(0, 1, 2);
        Stand first = placement.place(driver);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> placement.place(driver));
        assertEquals("cuda:0: stream did not finish within PT10S", e.getMessage());
        assertEquals(1, probe.closed.size());
        assertEquals(1, probe.closed.getFirst().queue);
        assertFalse(first.closed);
    }

    @Test
    void whenTheQueuesRunOutItTakesTheLastTryAndStopsChecking() {
        Probe probe = new Probe();
        QueuePlacement<Stand> placement = new QueuePlacement<>("gpu", probe);
        placement.sharedBy(2);
        int[] order = new int[1 + QueuePlacement.ATTEMPTS + 1];   // one queue only
        Supplier<Stand> driver = queues(order);
        placement.place(driver);
        Stand second = placement.place(driver);
        assertFalse(second.closed);
        assertEquals(QueuePlacement.ATTEMPTS - 1, probe.closed.size(), "every try but the last was closed");
        int probes = probe.probes;
        placement.place(driver);
        assertEquals(probes, probe.probes, "no checks once the queues ran out");
    }
}
