package io.cohort.plan;

import io.cohort.core.Collective;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checks a {@link Plan} against its topology without running it on data (see {@link PlanSimulator} for
 * races and results): only existing links are used (a peer's SEND/RECV/SCRATCH only over P2P, STAGING of
 * anyone), every buffer access is in bounds, every rank takes part, each Signal tag is used once per rank
 * and every Wait names one that exists, and the Signal/Wait graph cannot deadlock. Returns a
 * {@link Report} of what the plan does; throws {@link PlanException} naming the rank and step otherwise.
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
        Collective c = plan.collective();
        long sendCount = c.sendCount(plan.count(), n);
        long recvCount = c.recvCount(plan.count(), n);
        Set<String> links = new TreeSet<>();
        int staged = 0;
        int signals = 0;
        int waits = 0;
        boolean[] sendRead = new boolean[n];
        boolean[] recvWritten = new boolean[n];
        List<Map<Integer, Integer>> signalIndex = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            Map<Integer, Integer> tags = new HashMap<>();
            List<Step> steps = plan.stepsOf(r);
            for (int i = 0; i < steps.size(); i++) {
                Step step = steps.get(i);
                String where = "rank " + r + " step " + i + " (" + step + ")";
                switch (step) {
                    case Step.Signal(int tag) -> {
                        signals++;
                        if (tag != tags.size()) {
                            throw new PlanException(where + ": expected tag " + tags.size()
                                    + " (a rank's tags are 0, 1, 2, ... in list order, each once)");
                        }
                        tags.put(tag, i);
                    }
                    case Step.Wait(int peer, int tag) -> {
                        waits++;
                        if (peer < 0 || peer >= n || peer == r) {
                            throw new PlanException(where + ": waits on rank " + peer);
                        }
                    }
                    case Step.Copy(BufferRef src, BufferRef dst, long count) -> {
                        staged += access(plan, topology, r, where, src, count, links) ? 1 : 0;
                        access(plan, topology, r, where, dst, count, links);
                        sendRead[src.rank()] |= src.slot() == Slot.SEND;
                        recvWritten[dst.rank()] |= dst.slot() == Slot.RECV;
                    }
                    case Step.Reduce(BufferRef a, BufferRef b, BufferRef dst, long count) -> {
                        staged += access(plan, topology, r, where, a, count, links) ? 1 : 0;
                        staged += access(plan, topology, r, where, b, count, links) ? 1 : 0;
                        access(plan, topology, r, where, dst, count, links);
                        sendRead[a.rank()] |= a.slot() == Slot.SEND;
                        sendRead[b.rank()] |= b.slot() == Slot.SEND;
                        recvWritten[dst.rank()] |= dst.slot() == Slot.RECV;
                    }
                    case Step.Scale(BufferRef buf, long count) -> {
                        access(plan, topology, r, where, buf, count, links);
                        if (buf.rank() != r) {
                            throw new PlanException(where + ": scales a peer's buffer");
                        }
                    }
                }
                checkBounds(plan, where, step, sendCount, recvCount);
            }
            signalIndex.add(tags);
        }
        int depth = checkProgress(plan, signalIndex);
        if (plan.count() > 0) {
            for (int r = 0; r < n; r++) {
                if (n > 1 && plan.stepsOf(r).isEmpty()) {
                    throw new PlanException("rank " + r + " takes no part in " + c + " " + plan.algorithm());
                }
                boolean contributes = c != Collective.BROADCAST || r == plan.root();
                if (contributes && !sendRead[r]) {
                    throw new PlanException("rank " + r + "'s send is never read in " + c + " " + plan.algorithm());
                }
                boolean receives = c != Collective.REDUCE || r == plan.root();
                if (receives && !recvWritten[r]) {
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

    /** Checks one buffer access; returns whether it reads a peer's staging. */
    private static boolean access(Plan plan, Topology topology, int r, String where, BufferRef ref, long count,
                                  Set<String> links) {
        int owner = ref.rank();
        if (owner >= plan.ranks()) {
            throw new PlanException(where + ": touches rank " + owner + " of " + plan.ranks());
        }
        if (count <= 0) {
            throw new PlanException(where + ": empty transfer");
        }
        if (owner == r) {
            return false;
        }
        if (ref.slot() == Slot.STAGING) {
            return true;
        }
        if (!topology.p2p(r, owner)) {
            throw new PlanException(where + ": " + topology.deviceNames().get(r) + " has no P2P to "
                    + topology.deviceNames().get(owner) + " (" + topology.link(r, owner).label() + ")");
        }
        links.add(r + "->" + owner + " " + topology.link(r, owner).label());
        return false;
    }

    private static void checkBounds(Plan plan, String where, Step step, long sendCount, long recvCount) {
        List<BufferRef> refs = new ArrayList<>();
        long count = switch (step) {
            case Step.Copy(BufferRef src, BufferRef dst, long k) -> {
                refs.add(src);
                refs.add(dst);
                yield k;
            }
            case Step.Reduce(BufferRef a, BufferRef b, BufferRef dst, long k) -> {
                refs.add(a);
                refs.add(b);
                refs.add(dst);
                yield k;
            }
            case Step.Scale(BufferRef buf, long k) -> {
                refs.add(buf);
                yield k;
            }
            case Step.Signal s -> 0;
            case Step.Wait w -> 0;
        };
        Collective c = plan.collective();
        for (BufferRef ref : refs) {
            boolean root = ref.rank() == plan.root();
            long limit = switch (ref.slot()) {
                case SEND -> c == Collective.BROADCAST && !root ? 0 : sendCount;
                case RECV -> c == Collective.REDUCE && !root ? 0 : recvCount;
                case SCRATCH -> plan.scratchElements();
                case STAGING -> plan.stagingElements();
            };
            if (ref.offset() + count > limit) {
                throw new PlanException(where + ": " + count + " elements at " + ref + " overrun its " + limit
                        + " elements");
            }
        }
    }

    /**
     * Runs the Signal/Wait graph to completion (each rank as far as it can, repeatedly); fails with the
     * blocked waits if it cannot. Returns the longest chain of cross-rank waits.
     */
    private static int checkProgress(Plan plan, List<Map<Integer, Integer>> signalIndex) {
        int n = plan.ranks();
        int[] pc = new int[n];
        int[] depth = new int[n];
        List<Map<Integer, Integer>> signalDepth = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            signalDepth.add(new HashMap<>());
        }
        boolean progress = true;
        while (progress) {
            progress = false;
            for (int r = 0; r < n; r++) {
                List<Step> steps = plan.stepsOf(r);
                while (pc[r] < steps.size()) {
                    Step step = steps.get(pc[r]);
                    if (step instanceof Step.Wait(int peer, int tag)) {
                        if (!signalIndex.get(peer).containsKey(tag)) {
                            throw new PlanException("rank " + r + " step " + pc[r] + " waits for tag " + tag
                                    + " that rank " + peer + " never signals");
                        }
                        Integer d = signalDepth.get(peer).get(tag);
                        if (d == null) {
                            break;
                        }
                        depth[r] = Math.max(depth[r], d + 1);
                    } else if (step instanceof Step.Signal(int tag)) {
                        signalDepth.get(r).put(tag, depth[r]);
                    }
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
        int max = 0;
        for (int d : depth) {
            max = Math.max(max, d);
        }
        return max;
    }
}
