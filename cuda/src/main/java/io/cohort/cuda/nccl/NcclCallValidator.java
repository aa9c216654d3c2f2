package io.cohort.cuda.nccl;

import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceKind;

/**
 * Checks one rank's part of a collective before NCCL sees it: NCCL trusts its arguments, and a wrong count or
 * a buffer on the wrong GPU means a hang, a crash or silently wrong data. Allocates nothing unless it throws.
 */
final class NcclCallValidator {

    private NcclCallValidator() {
    }

    /**
     * @param rank       the rank enqueuing
     * @param ranks      ranks in the group
     * @param cudaDevice the rank's CUDA ordinal (where its buffers must live)
     * @param who        "rank 1 (cuda:1)", for messages
     */
    static void validate(int rank, int ranks, int cudaDevice, String who, long seq, CollectiveCall call,
                         DeviceBuffer send, DeviceBuffer recv) {
        if (call == null) {
            throw error(who, seq, null, "no call given");
        }
        Collective coll = call.collective();
        if (coll.rooted() && call.root() >= ranks) {
            throw error(who, seq, call, "root " + call.root() + " is not a rank of this " + ranks + "-rank group");
        }
        long sendBytes = bytes(who, seq, call, coll.sendCount(1, ranks), ranks);
        long recvBytes = bytes(who, seq, call, coll.recvCount(1, ranks), ranks);
        // NCCL reads sendbuff of broadcast and writes recvbuff of reduce on the root only
        boolean usesSend = coll != Collective.BROADCAST || rank == call.root();
        boolean usesRecv = coll != Collective.REDUCE || rank == call.root();
        checkBuffer(who, seq, call, "send", send, sendBytes, usesSend, cudaDevice);
        checkBuffer(who, seq, call, "recv", recv, recvBytes, usesRecv, cudaDevice);
        if (usesSend && usesRecv && sendBytes > 0 && recvBytes > 0) {
            checkOverlap(who, seq, call, rank, send, sendBytes, recv, recvBytes);
        }
    }

    /** count * factor * element size, refusing overflow. */
    private static long bytes(String who, long seq, CollectiveCall call, long factor, int ranks) {
        try {
            return Math.multiplyExact(Math.multiplyExact(call.count(), factor), call.dtype().bytes());
        } catch (ArithmeticException e) {
            throw error(who, seq, call, "count " + call.count() + " x " + ranks + " ranks overflows a byte size");
        }
    }

    private static void checkBuffer(String who, long seq, CollectiveCall call, String name, DeviceBuffer buf,
                                    long needed, boolean used, int cudaDevice) {
        if (buf == null) {
            throw error(who, seq, call, "no " + name + " buffer (pass the other buffer where this one is unused)");
        }
        if (!used) {
            return;
        }
        if (buf.device().kind() != DeviceKind.CUDA || buf.device().ordinal() != cudaDevice) {
            throw error(who, seq, call, name + " buffer lives on " + buf.device().name() + ", not on cuda:" + cudaDevice);
        }
        if (buf.isHostAccessible()) {
            throw error(who, seq, call, name + " buffer is pinned host memory; NCCL needs device memory");
        }
        if (buf.byteSize() < needed) {
            throw error(who, seq, call, name + " buffer holds " + buf.byteSize() + " bytes, the call needs " + needed);
        }
    }

    /** Overlap is allowed only in NCCL's in-place layouts; anything else is a race on the device. */
    private static void checkOverlap(String who, long seq, CollectiveCall call, int rank, DeviceBuffer send,
                                     long sendBytes, DeviceBuffer recv, long recvBytes) {
        long s = send.address();
        long r = recv.address();
        if (s + sendBytes <= r || r + recvBytes <= s) {
            return;
        }
        long block = call.count() * call.dtype().bytes();
        boolean inPlace = switch (call.collective()) {
            case ALL_REDUCE, REDUCE, BROADCAST -> s == r;
            case ALL_GATHER -> s == r + rank * block;
            case REDUCE_SCATTER -> r == s + rank * block;
        };
        if (!inPlace) {
            String layout = switch (call.collective()) {
                case ALL_REDUCE, REDUCE, BROADCAST -> "send == recv";
                case ALL_GATHER -> "send == recv + rank * count elements";
                case REDUCE_SCATTER -> "recv == send + rank * count elements";
            };
            throw error(who, seq, call, "send and recv overlap but are not in place (" + layout + ")");
        }
    }

    private static CohortException error(String who, long seq, CollectiveCall call, String problem) {
        String what = call == null ? "collective" : SeqWindow.describe(call);
        return new CohortException("NCCL " + what + " (seq " + seq + ") on " + who + ": " + problem);
    }
}
