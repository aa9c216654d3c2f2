package io.cohort.exec;

import io.cohort.core.CohortException;
import io.cohort.core.IdlePolicy;
import io.cohort.device.DeviceBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Where ranks that enqueue independently (one thread per rank) publish their user buffers for collective
 * {@code seq}, so that a rank whose steps touch a peer's SEND/RECV directly (P2P plans) can resolve them.
 * A ring of {@link #DEPTH} slots per rank, stamped with the sequence number; a reader waits (bounded by the
 * collective timeout) until the peer has published: busy for a while ({@link IdlePolicy}), then parked until
 * the next publish unparks it (every publish wakes the ranks parked here). A rank may run at most
 * {@link #DEPTH} collectives ahead of a peer that reads its buffers; beyond that the reader fails instead of
 * reading the wrong call.
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
    private final IdlePolicy idle;
    /** waiters.get(r): the thread of rank r while it is parked here, else null. */
    private final AtomicReferenceArray<Thread> waiters;

    public BufferExchange(int ranks, Duration timeout) {
        this(ranks, timeout, IdlePolicy.defaults("exchange"));
    }

    public BufferExchange(int ranks, Duration timeout, IdlePolicy idle) {
        this.timeout = timeout;
        this.idle = idle;
        this.waiters = new AtomicReferenceArray<>(ranks);
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
        for (int r = 0, n = waiters.length(); r < n; r++) {
            Thread t = waiters.get(r); // read after the volatile write: a waiter registered before it is woken
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    /**
     * Copies rank {@code peer}'s buffers of collective {@code seq} into {@code send[peer]}/{@code recv[peer]},
     * waiting for {@code peer} to publish them.
     */
    public void await(int waiter, int peer, long seq, DeviceBuffer[] send, DeviceBuffer[] recv) {
        Entry e = entries[peer][slot(seq)];
        long deadline = System.nanoTime() + timeout.toNanos();
        int round = 0;
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
            if (!idle.idle(round++)) {
                // registered, then the seq re-read by the loop: a publish after registering unparks us
                waiters.set(waiter, Thread.currentThread());
                if (e.seq == s) {
                    LockSupport.parkNanos(this, deadline - System.nanoTime()); // the bound is the deadline itself
                }
                waiters.set(waiter, null);
            }
        }
    }

    private static int slot(long seq) {
        return (int) Math.floorMod(seq, (long) DEPTH);
    }
}
