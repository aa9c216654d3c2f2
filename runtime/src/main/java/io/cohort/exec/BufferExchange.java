package io.cohort.exec;

import io.cohort.core.CohortException;
import io.cohort.device.DeviceBuffer;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * Where ranks that enqueue independently (one thread per rank) publish their user buffers for collective
 * {@code seq}, so that a rank whose steps touch a peer's SEND/RECV directly (P2P plans) can resolve them.
 * A ring of {@link #DEPTH} slots per rank, stamped with the sequence number; a reader waits (bounded by the
 * collective timeout) until the peer has published. A rank may run at most {@link #DEPTH} collectives
 * ahead of a peer that reads its buffers; beyond that the reader fails instead of reading the wrong call.
 */
public final class BufferExchange {

    public static final int DEPTH = 64;

    private static final class Entry {
        volatile long seq = Long.MIN_VALUE;
        DeviceBuffer send;
        DeviceBuffer recv;
    }

    private final Entry[][] entries;
    private final Duration timeout;

    public BufferExchange(int ranks, Duration timeout) {
        this.timeout = timeout;
        this.entries = new Entry[ranks][DEPTH];
        for (Entry[] row : entries) {
            for (int i = 0; i < DEPTH; i++) {
                row[i] = new Entry();
            }
        }
    }

    /** Rank {@code rank} publishes its buffers of collective {@code seq}. */
    public void publish(int rank, long seq, DeviceBuffer send, DeviceBuffer recv) {
        Entry e = entries[rank][slot(seq)];
        e.send = send;
        e.recv = recv;
        e.seq = seq; // volatile write publishes the buffers
    }

    /**
     * Copies rank {@code peer}'s buffers of collective {@code seq} into {@code send[peer]}/{@code recv[peer]},
     * waiting for {@code peer} to publish them.
     */
    public void await(int waiter, int peer, long seq, DeviceBuffer[] send, DeviceBuffer[] recv) {
        Entry e = entries[peer][slot(seq)];
        long deadline = System.nanoTime() + timeout.toNanos();
        int idle = 0;
        while (true) {
            long s = e.seq;
            if (s == seq) {
                send[peer] = e.send;
                recv[peer] = e.recv;
                if (e.seq == seq) {
                    return;
                }
                s = e.seq;
            }
            if (s > seq) {
                throw new CohortException("rank " + waiter + ": rank " + peer + " ran more than " + DEPTH
                        + " collectives ahead (at " + s + ") before rank " + waiter + " enqueued collective " + seq);
            }
            if (System.nanoTime() - deadline > 0) {
                throw new CohortException("rank " + waiter + ": timed out after " + timeout.toMillis()
                        + " ms waiting for rank " + peer + " to enqueue collective " + seq
                        + " (its buffers are needed to enqueue the P2P steps)");
            }
            if (++idle < 100) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(50_000);
            }
        }
    }

    private static int slot(long seq) {
        return (int) Math.floorMod(seq, (long) DEPTH);
    }
}
