package io.cohort.cuda.nccl;

import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.device.DeviceBuffer;

/**
 * The collectives this process's ranks have enqueued but not all of them yet, by sequence number: a ring of
 * {@code capacity} preallocated slots (seq mod capacity), so arriving allocates nothing. It is where the ranks'
 * calls meet: each rank's call is compared with the first rank's before NCCL sees any of them, and in grouped
 * launch mode the slot keeps every rank's buffers until the last rank arrives. Not thread-safe: the backend
 * holds its lock around it.
 */
final class SeqWindow {

    private final int[] localRanks;
    private final long[] seq;
    private final CollectiveCall[] call;
    private final int[] firstRank;
    private final int[] arrived;
    private final DeviceBuffer[][] send;
    private final DeviceBuffer[][] recv;
    private final boolean[][] present;
    /** Last seq each local rank enqueued (by local index). */
    private final long[] lastSeq;

    /** {@code localRanks[i]} is the group rank of local index i. */
    SeqWindow(int[] localRanks, int capacity) {
        this.localRanks = localRanks.clone();
        int n = localRanks.length;
        seq = new long[capacity];
        call = new CollectiveCall[capacity];
        firstRank = new int[capacity];
        arrived = new int[capacity];
        send = new DeviceBuffer[capacity][n];
        recv = new DeviceBuffer[capacity][n];
        present = new boolean[capacity][n];
        lastSeq = new long[n];
        java.util.Arrays.fill(lastSeq, Long.MIN_VALUE);
    }

    int capacity() {
        return seq.length;
    }

    /**
     * Records local rank {@code local}'s part of collective {@code s}. Returns the slot when every local rank
     * has now arrived (the caller launches it, then {@link #clear}s it), else -1. Throws, changing nothing,
     * when the call differs from another rank's for the same seq, when seqs do not increase, or when the rank is
     * {@code capacity} collectives ahead of another.
     */
    int arrive(int local, long s, CollectiveCall c, DeviceBuffer sendBuf, DeviceBuffer recvBuf) {
        int rank = localRanks[local];
        if (s <= lastSeq[local]) {
            throw new CohortException("NCCL: rank " + rank + " enqueued seq " + s + " after seq " + lastSeq[local]
                    + ": sequence numbers must increase");
        }
        int slot = (int) Math.floorMod(s, (long) seq.length);
        if (arrived[slot] > 0 && seq[slot] != s) {
            throw new CohortException("NCCL: rank " + rank + " enqueued seq " + s + " while seq " + seq[slot]
                    + " still waits for ranks " + missing(slot) + ": a rank may run at most " + seq.length
                    + " collectives ahead of another (cohort.nccl.max-pending)");
        }
        if (arrived[slot] > 0 && !sameCall(call[slot], c)) {
            throw new CohortException("NCCL: mismatched collective seq " + s + ": rank " + firstRank[slot]
                    + " enqueued " + describe(call[slot]) + " but rank " + rank + " enqueued " + describe(c)
                    + " (caught before NCCL was called)");
        }
        if (arrived[slot] == 0) {
            seq[slot] = s;
            call[slot] = c;
            firstRank[slot] = rank;
        }
        arrived[slot]++;
        send[slot][local] = sendBuf;
        recv[slot][local] = recvBuf;
        present[slot][local] = true;
        lastSeq[local] = s;
        return arrived[slot] == localRanks.length ? slot : -1;
    }

    /** Throws if a collective older than the one in {@code slot} is still waiting: some rank skipped it. */
    void checkNoneSkipped(int slot) {
        long s = seq[slot];
        for (int i = 0; i < seq.length; i++) {
            if (arrived[i] > 0 && i != slot && seq[i] < s) {
                throw new CohortException("NCCL: every local rank enqueued seq " + s + " but ranks " + missing(i)
                        + " never enqueued seq " + seq[i] + " (enqueued by rank " + firstRank[i] + ")");
            }
        }
    }

    CollectiveCall call(int slot) {
        return call[slot];
    }

    long seq(int slot) {
        return seq[slot];
    }

    DeviceBuffer send(int slot, int local) {
        return send[slot][local];
    }

    DeviceBuffer recv(int slot, int local) {
        return recv[slot][local];
    }

    /** Whether any collective is waiting for ranks. */
    boolean hasPending() {
        for (int a : arrived) {
            if (a > 0) {
                return true;
            }
        }
        return false;
    }

    void clear(int slot) {
        arrived[slot] = 0;
        call[slot] = null;
        java.util.Arrays.fill(send[slot], null);
        java.util.Arrays.fill(recv[slot], null);
        java.util.Arrays.fill(present[slot], false);
    }

    /** What every rank must agree on: the op only where it reduces, the root only where there is one. */
    static boolean sameCall(CollectiveCall a, CollectiveCall b) {
        return a.collective() == b.collective() && a.dtype() == b.dtype() && a.count() == b.count()
                && (!a.collective().reduces() || a.op() == b.op())
                && (!a.collective().rooted() || a.root() == b.root());
    }

    private String missing(int slot) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < localRanks.length; i++) {
            if (!present[slot][i]) {
                sb.append(sb.length() > 1 ? ", " : "").append(localRanks[i]);
            }
        }
        return sb.append(']').toString();
    }

    static String describe(CollectiveCall c) {
        String s = c.collective().cliName() + " " + c.count() + " x " + c.dtype().name().toLowerCase(java.util.Locale.ROOT);
        if (c.collective().reduces()) {
            s += " " + c.op().name().toLowerCase(java.util.Locale.ROOT);
        }
        if (c.collective().rooted()) {
            s += " root " + c.root();
        }
        return s;
    }
}
