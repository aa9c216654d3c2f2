package io.cohort.plan;

import io.cohort.core.Collective;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checks a {@link Plan} against its topology without running it on data (see {@link PlanSimulator} for
 * per-element races and results). The rules an executor relies on:
 *
 * <ul>
 *   <li>links: a peer's SEND/RECV/SCRATCH is touched only over P2P; STAGING of anyone may be;</li>
 *   <li>bounds: every access stays inside its buffer (a non-root's recv in REDUCE and send in BROADCAST
 *       have no elements, as NCCL lets them be null); only a rank's own buffers are scaled;</li>
 *   <li>flags: each rank's tags are 0, 1, 2, ... in list order, and every Wait names a peer's tag that
 *       exists; the Signal/Wait graph cannot deadlock;</li>
 *   <li>start: a rank touches a peer's memory only after waiting, directly or through other ranks, on one
 *       of the peer's Signals (before that, the peer's stream may still be producing its input or using its
 *       buffers for the previous collective);</li>
 *   <li>completion: a rank's list ends only after it has waited, directly or through other ranks, on a
 *       Signal each peer made after its last touch of the rank's memory. So once a rank's stream passes the
 *       plan no peer reads or writes its buffers any more: the caller may reuse them in stream order, and the
 *       next collective may reuse scratch and staging. Executors rely on the plan for this and add no
 *       barrier of their own (the planners' {@code PlanBuilder} ends every plan with the one round it
 *       needs);</li>
 *   <li>participation: with a non-zero count every rank has steps, every contributing send is read and
 *       every receiving recv is written.</li>
 * </ul>
 *
 * Returns a {@link Report} of what the plan does; throws {@link PlanException} naming the rank and step
 * otherwise.
 */
public final class PlanValidator {

    /**
     * What a valid plan does.
     *
     * @param stepsPerRank  steps in each rank's list
     * @param signals       Signal steps over all ranks
     * @param waits         Wait steps over all ranks
     * @param syncDepth     the longest chain of cross-rank Waits: the plan's latency in hops (a ring
     *                      all-reduce has about 2(n-1), a tree about twice its depth, one shot 1 or 2)
     * @param linksUsed     "reader->owner LABEL" for every pair where a rank touches a peer's device memory
     * @param stagedReads   steps that read a peer's host STAGING (traffic without P2P)
     * @param description   the plan's own description (ring order, tree edges)
     */
    public record Report(int[] stepsPerRank, int signals, int waits, int syncDepth, Set<String> linksUsed,
                         int stagedReads, String description) {
        @Override
        public String toString() {
            return description + "; " + signals + " signals, " + waits + " waits, sync depth " + syncDepth
                    + ", links " + linksUsed + (stagedReads > 0 ? ", " + stagedReads + " staged reads" : "");
        }
    }

    private PlanValidator() {
    }

    public static Report validate(Plan plan, Topology topology) {
        int n = plan.ranks();
        if (n != topology.size()) {
            throw new PlanException("plan for " + n + " ranks on topology " + topology.name() + " of "
                    + topology.size() + " devices");
        }
        if (n > 1 && (plan.root() < 0 || plan.root() >= n)) {
            throw new PlanException("root " + plan.root() + " outside 0.." + (n - 1));
        }
        Set<String> links = new TreeSet<>();
        int staged = 0;
        int signals = 0;
        int waits = 0;
        boolean[] sendRead = new boolean[n];
        boolean[] recvWritten = new boolean[n];
        int[] signalCount = new int[n];
        for (int r = 0; r < n; r++) {
            List<Step> steps = plan.stepsOf(r);
            for (int i = 0; i < steps.size(); i++) {
                Step step = steps.get(i);
                switch (step) {
                    case Step.Signal(int tag) -> {
                        signals++;
                        if (tag != signalCount[r]) {
                            throw new PlanException(where(r, i, step) + ": expected tag " + signalCount[r]
                                    + " (a rank's tags are 0, 1, 2, ... in list order, each once)");
                        }
                        signalCount[r]++;
                    }
                    case Step.Wait(int peer, int tag) -> {
                        waits++;
                        if (peer < 0 || peer >= n || peer == r) {
                            throw new PlanException(where(r, i, step) + ": waits on rank " + peer);
                        }
                    }
                    case Step.Scale(BufferRef buf, long count) -> {
                        access(plan, topology, r, i, buf, count, links);
                        if (buf.rank() != r) {
                            throw new PlanException(where(r, i, step) + ": scales a peer's buffer");
                        }
                    }
                    case Step.Copy(BufferRef src, BufferRef dst, long count) -> {
                        staged += access(plan, topology, r, i, src, count, links) ? 1 : 0;
                        access(plan, topology, r, i, dst, count, links);
                        sendRead[src.rank()] |= src.slot() == Slot.SEND;
                        recvWritten[dst.rank()] |= dst.slot() == Slot.RECV;
                    }
                    case Step.Reduce(BufferRef a, BufferRef b, BufferRef dst, long count) -> {
                        staged += access(plan, topology, r, i, a, count, links) ? 1 : 0;
                        staged += access(plan, topology, r, i, b, count, links) ? 1 : 0;
                        access(plan, topology, r, i, dst, count, links);
                        sendRead[a.rank()] |= a.slot() == Slot.SEND;
                        sendRead[b.rank()] |= b.slot() == Slot.SEND;
                        recvWritten[dst.rank()] |= dst.slot() == Slot.RECV;
                    }
                }
            }
        }
        int depth = new Progress(plan, signalCount).run();
        Collective c = plan.collective();
        if (plan.count() > 0) {
            for (int r = 0; r < n; r++) {
                if (n > 1 && plan.stepsOf(r).isEmpty()) {
                    throw new PlanException("rank " + r + " takes no part in " + c + " " + plan.algorithm());
                }
                if (elements(plan, r, Slot.SEND) > 0 && !sendRead[r]) {
                    throw new PlanException("rank " + r + "'s send is never read in " + c + " " + plan.algorithm());
                }
                if (elements(plan, r, Slot.RECV) > 0 && !recvWritten[r]) {
                    throw new PlanException("rank " + r + "'s recv is never written in " + c + " " + plan.algorithm());
                }
            }
        }
        int[] stepsPerRank = new int[n];
        for (int r = 0; r < n; r++) {
            stepsPerRank[r] = plan.stepsOf(r).size();
        }
        return new Report(stepsPerRank, signals, waits, depth, links, staged, plan.description());
    }

    /**
     * Elements of {@code slot} that rank {@code rank} has under {@code plan}: send and recv as the collective
     * defines them, except that a non-root has no recv in REDUCE and no send in BROADCAST (NCCL lets those
     * be null); scratch and staging as the plan asks.
     */
    public static long elements(Plan plan, int rank, Slot slot) {
        Collective c = plan.collective();
        int root = plan.ranks() == 1 ? rank : plan.root();
        return switch (slot) {
            case SEND -> c.usesSend(rank, root) ? c.sendCount(plan.count(), plan.ranks()) : 0;
            case RECV -> c.usesRecv(rank, root) ? c.recvCount(plan.count(), plan.ranks()) : 0;
            case SCRATCH -> plan.scratchElements();
            case STAGING -> plan.stagingElements();
        };
    }

    private static String where(int rank, int index, Step step) {
        return "rank " + rank + " step " + index + " (" + step + ")";
    }

    /** Checks one buffer access (rank, link, bounds); returns whether it reads a peer's staging. */
    private static boolean access(Plan plan, Topology topology, int r, int index, BufferRef ref, long count,
                                  Set<String> links) {
        int owner = ref.rank();
        Step step = plan.stepsOf(r).get(index);
        if (owner >= plan.ranks()) {
            throw new PlanException(where(r, index, step) + ": touches rank " + owner + " of " + plan.ranks());
        }
        if (count <= 0) {
            throw new PlanException(where(r, index, step) + ": empty transfer");
        }
        long limit = elements(plan, owner, ref.slot());
        if (ref.offset() + count > limit) {
            throw new PlanException(where(r, index, step) + ": " + count + " elements at " + ref + " overrun its "
                    + limit + " elements");
        }
        if (owner == r) {
            return false;
        }
        if (ref.slot() == Slot.STAGING) {
            return true;
        }
        if (!topology.p2p(r, owner)) {
            throw new PlanException(where(r, index, step) + ": " + topology.deviceNames().get(r) + " has no P2P to "
                    + topology.deviceNames().get(owner) + " (" + topology.link(r, owner).label() + ")");
        }
        links.add(r + "->" + owner + " " + topology.link(r, owner).label());
        return false;
    }

    /**
     * Runs the Signal/Wait graph to completion (each rank as far as it can, repeatedly) with a vector clock
     * per rank: {@code clock[r][q]} is the index of the latest Signal of q that r has waited on, directly or
     * through other ranks (-1: none). Fails with the blocked waits if the graph cannot finish, at the
     * first touch of a peer's memory that is not ordered after one of the peer's Signals, and when a rank
     * may finish while a peer still touches its memory.
     */
    private static final class Progress {
        private final Plan plan;
        private final int n;
        private final int[] pc;
        private final int[] depth;
        private final int[][] clock;
        /** signalled[q][tag]: q's clock when it signalled tag, with the Signal's index at [q]; null: not yet. */
        private final int[][][] signalled;
        private final int[][] signalDepth;
        /** lastTouch[owner][q]: index of q's last step that touches owner's memory (-1: none). */
        private final int[][] lastTouch;

        Progress(Plan plan, int[] signalCount) {
            this.plan = plan;
            this.n = plan.ranks();
            this.pc = new int[n];
            this.depth = new int[n];
            this.clock = new int[n][n];
            this.signalled = new int[n][][];
            this.signalDepth = new int[n][];
            this.lastTouch = new int[n][n];
            for (int r = 0; r < n; r++) {
                Arrays.fill(clock[r], -1);
                Arrays.fill(lastTouch[r], -1);
                signalled[r] = new int[signalCount[r]][];
                signalDepth[r] = new int[signalCount[r]];
            }
            for (int q = 0; q < n; q++) {
                List<Step> steps = plan.stepsOf(q);
                for (int i = 0; i < steps.size(); i++) {
                    for (BufferRef ref : steps.get(i).buffers()) {
                        lastTouch[ref.rank()][q] = i;
                    }
                }
            }
        }

        /** Returns the longest chain of cross-rank waits. */
        int run() {
            boolean progress = true;
            while (progress) {
                progress = false;
                for (int r = 0; r < n; r++) {
                    List<Step> steps = plan.stepsOf(r);
                    while (pc[r] < steps.size() && advance(r, steps.get(pc[r]))) {
                        pc[r]++;
                        progress = true;
                    }
                }
            }
            StringBuilder stuck = new StringBuilder();
            for (int r = 0; r < n; r++) {
                if (pc[r] < plan.stepsOf(r).size()) {
                    stuck.append(" rank ").append(r).append(" at step ").append(pc[r]).append(' ')
                            .append(plan.stepsOf(r).get(pc[r])).append(';');
                }
            }
            if (!stuck.isEmpty()) {
                throw new PlanException("deadlock in " + plan.algorithm() + " " + plan.collective() + ":" + stuck);
            }
            for (int owner = 0; owner < n; owner++) {
                for (int q = 0; q < n; q++) {
                    if (q != owner && lastTouch[owner][q] >= 0 && clock[owner][q] <= lastTouch[owner][q]) {
                        Step touch = plan.stepsOf(q).get(lastTouch[owner][q]);
                        throw new PlanException("rank " + owner + " may finish while " + where(q, lastTouch[owner][q], touch)
                                + " still touches its memory: rank " + owner + " needs to wait, directly or through"
                                + " another rank, on a Signal rank " + q + " makes after that step");
                    }
                }
            }
            return Arrays.stream(depth).max().orElse(0);
        }

        /** Executes rank r's next step if it can run; returns false when it waits for a Signal not yet made. */
        private boolean advance(int r, Step step) {
            switch (step) {
                case Step.Wait(int peer, int tag) -> {
                    if (tag < 0 || tag >= signalled[peer].length) {
                        throw new PlanException(where(r, pc[r], step) + ": waits for tag " + tag + " that rank " + peer
                                + " never signals");
                    }
                    int[] snapshot = signalled[peer][tag];
                    if (snapshot == null) {
                        return false;
                    }
                    for (int q = 0; q < n; q++) {
                        clock[r][q] = Math.max(clock[r][q], snapshot[q]);
                    }
                    depth[r] = Math.max(depth[r], signalDepth[peer][tag] + 1);
                }
                case Step.Signal(int tag) -> {
                    clock[r][r] = pc[r];
                    signalled[r][tag] = clock[r].clone();
                    signalDepth[r][tag] = depth[r];
                }
                default -> {
                    for (BufferRef ref : step.buffers()) {
                        int owner = ref.rank();
                        if (owner != r && clock[r][owner] < 0) {
                            throw new PlanException(where(r, pc[r], step) + ": touches " + ref + " before waiting on"
                                    + " rank " + owner + " (directly or through another rank): rank " + owner
                                    + " may not have reached this collective yet");
                        }
                    }
                }
            }
            return true;
        }
    }
}
