package io.cohort.plan;

import io.cohort.core.Collective;
import io.cohort.plan.PlanBuilder.Published;
import io.cohort.topology.LinkPerformance;
import io.cohort.topology.Topology;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Ring algorithms over a ring order chosen from the topology ({@link #ringOrder}); position i reads from
 * position i-1 (its predecessor) only.
 *
 * <ul>
 *   <li>ALL_REDUCE: count is cut into n segments; segment k ends fully reduced at position k. Reduce-scatter:
 *       in step s = 1..n-1 position i reduces segment (i-s-1) mod n: the predecessor's partial (or, in step 1,
 *       its send) op its own send, into its recv. Position i then finishes AVG on segment i, and all-gather
 *       passes finished segments on for n-1 more steps. 2(n-1) steps; each segment is reduced in one fixed
 *       order (starting at the position after its owner), and then copied, so all ranks get identical bits.</li>
 *   <li>REDUCE_SCATTER: the reduce-scatter half over the n blocks of count (block of rank o[k] ends at
 *       position k); partials live in SCRATCH ((n-2) * count), the last step writes recv.</li>
 *   <li>ALL_GATHER: the all-gather half, starting from each rank's send.</li>
 *   <li>REDUCE: a chain along the ring that ends at the root (partials in SCRATCH).</li>
 *   <li>BROADCAST: a chain along the ring that starts at the root.</li>
 * </ul>
 * Partials of the reduce-scatter that cross a hop without P2P are reduced straight into the sender's host
 * STAGING, so staging costs no extra copy there.
 *
 * <p>With {@link PlanRequest#chunkElements()} > 0 every segment moves in slices of at most that many elements,
 * each with its own signal, so a position works on slice j+1 while its successor takes slice j.
 *
 * <p>In place (send == recv): a rank overwrites a segment of its recv only after its successor has read that
 * segment of its send; the waits of the ring order this transitively (the simulator checks it).
 */
public final class RingPlanner extends BasePlanner {

    /** Rings of up to this many ranks are chosen by trying every order; larger ones greedily. */
    static final int EXHAUSTIVE_LIMIT = 9;

    @Override
    public Algorithm algorithm() {
        return Algorithm.RING;
    }

    /**
     * The ring for {@code topology}: order[0] = 0, and order[i] reads from order[i-1] (order[0] from the last).
     * Chosen to maximise the slowest link of the ring (by {@link LinkPerformance}), then to minimise the sum
     * of link costs; ties go to the lexicographically first order, so a uniform topology gets 0,1,...,n-1.
     * Up to {@value #EXHAUSTIVE_LIMIT} ranks every order is tried; beyond, nearest neighbour from rank 0.
     */
    public static int[] ringOrder(Topology topology) {
        int n = topology.size();
        double[][] cost = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                cost[i][j] = i == j ? 0 : LinkPerformance.costPerGB(topology.link(i, j));
            }
        }
        int[] order = new int[n];
        Arrays.setAll(order, i -> i);
        if (n <= 2) {
            return order;
        }
        if (n > EXHAUSTIVE_LIMIT) {
            return greedy(cost);
        }
        Search search = new Search(cost);
        search.extend(order, 1, 0, 0);
        return search.best;
    }

    private static final class Search {
        final double[][] cost;
        int[] best;
        double bestWorst = Double.POSITIVE_INFINITY;
        double bestSum = Double.POSITIVE_INFINITY;

        Search(double[][] cost) {
            this.cost = cost;
        }

        /** Permutations of order[k..] in lexicographic order; worst/sum cover edges up to position k-1. */
        void extend(int[] order, int k, double worst, double sum) {
            int n = order.length;
            if (k == n) {
                double w = Math.max(worst, cost[order[0]][order[n - 1]]);
                double s = sum + cost[order[0]][order[n - 1]];
                if (better(w, s)) {
                    best = order.clone();
                    bestWorst = w;
                    bestSum = s;
                }
                return;
            }
            for (int i = k; i < n; i++) {
                int[] next = order.clone();
                // rotate next[k..i] right so the candidate comes first and the rest keep ascending order
                int chosen = next[i];
                System.arraycopy(next, k, next, k + 1, i - k);
                next[k] = chosen;
                double edge = cost[next[k]][next[k - 1]];
                double w = Math.max(worst, edge);
                double s = sum + edge;
                if (w > bestWorst + 1e-12 || (Math.abs(w - bestWorst) <= 1e-12 && s >= bestSum - 1e-12)) {
                    continue; // cannot beat the best ring found so far
                }
                extend(next, k + 1, w, s);
            }
        }

        boolean better(double w, double s) {
            if (w < bestWorst - 1e-12) {
                return true;
            }
            return Math.abs(w - bestWorst) <= 1e-12 && s < bestSum - 1e-12;
        }
    }

    private static int[] greedy(double[][] cost) {
        int n = cost.length;
        int[] order = new int[n];
        boolean[] used = new boolean[n];
        used[0] = true;
        for (int k = 1; k < n; k++) {
            int bestNext = -1;
            for (int j = 0; j < n; j++) {
                if (!used[j] && (bestNext < 0 || cost[j][order[k - 1]] < cost[bestNext][order[k - 1]] - 1e-12)) {
                    bestNext = j;
                }
            }
            order[k] = bestNext;
            used[bestNext] = true;
        }
        return order;
    }

    @Override
    String planRanks(PlanBuilder b) {
        PlanRequest req = b.request();
        int[] o = ringOrder(req.topology());
        switch (req.collective()) {
            case ALL_REDUCE, REDUCE_SCATTER -> reduceScatter(b, o);
            case ALL_GATHER -> allGather(b, o);
            case REDUCE -> reduceChain(b, o);
            case BROADCAST -> broadcastChain(b, o);
        }
        return label(req.collective()) + " over ring " + describe(req.topology(), o)
                + (req.chunkElements() > 0 ? ", slices of " + req.chunkElements() + " elements" : "");
    }

    /** "0>1>2>3>0 (NV18 NV18 NV18 SYS)": the order data flows and the label of each hop. */
    public static String describe(Topology topology, int[] o) {
        int n = o.length;
        String path = Arrays.stream(o).mapToObj(Integer::toString).collect(Collectors.joining(">")) + ">" + o[0];
        StringBuilder hops = new StringBuilder();
        for (int i = 0; i < n; i++) {
            int from = o[i];
            int to = o[(i + 1) % n];
            hops.append(i == 0 ? "" : " ").append(topology.p2p(to, from) ? topology.link(to, from).label() : "staged");
        }
        return path + " (" + hops + ")";
    }

    /** Segment k: elements of ALL_REDUCE chunk k, or of the REDUCE_SCATTER block of rank o[k]. */
    private static long segmentStart(PlanRequest req, int[] o, int k) {
        return req.collective() == Collective.REDUCE_SCATTER ? o[k] * req.count()
                : PlanBuilder.partStart(req.count(), o.length, k);
    }

    private static long segmentLength(PlanRequest req, int[] o, int k) {
        return req.collective() == Collective.REDUCE_SCATTER ? req.count()
                : PlanBuilder.partStart(req.count(), o.length, k + 1) - PlanBuilder.partStart(req.count(), o.length, k);
    }

    private static void reduceScatter(PlanBuilder b, int[] o) {
        PlanRequest req = b.request();
        int n = o.length;
        boolean allReduce = req.collective() == Collective.ALL_REDUCE;
        long chunk = req.chunkElements();
        Published[][] prev = new Published[n][];
        for (int i = 0; i < n; i++) {
            int k = Math.floorMod(i - 1, n);
            long start = segmentStart(req, o, k);
            long[] sl = PlanBuilder.pieces(segmentLength(req, o, k), chunk);
            prev[i] = new Published[sl.length - 1];
            for (int j = 0; j + 1 < sl.length; j++) {
                prev[i][j] = b.publish(o[i], o[(i + 1) % n], BufferRef.send(o[i], start + sl[j]), sl[j + 1] - sl[j]);
            }
        }
        for (int s = 1; s < n; s++) {
            Published[][] cur = new Published[n][];
            for (int i = 0; i < n; i++) {
                int r = o[i];
                int k = Math.floorMod(i - s - 1, n);
                long start = segmentStart(req, o, k);
                long[] sl = PlanBuilder.pieces(segmentLength(req, o, k), chunk);
                cur[i] = new Published[sl.length - 1];
                for (int j = 0; j + 1 < sl.length; j++) {
                    long len = sl[j + 1] - sl[j];
                    BufferRef dst;
                    if (allReduce) {
                        dst = BufferRef.recv(r, start + sl[j]);
                    } else if (s == n - 1) {
                        dst = BufferRef.recv(r, sl[j]);
                    } else {
                        dst = BufferRef.scratch(r, (s - 1) * req.count() + sl[j]);
                    }
                    if (s < n - 1) {
                        // a partial only the successor reads: straight into staging where it has no P2P
                        dst = b.destinationFor(r, o[(i + 1) % n], len, dst);
                    }
                    BufferRef incoming = b.consume(r, prev[Math.floorMod(i - 1, n)][j]);
                    b.reduce(r, incoming, BufferRef.send(r, start + sl[j]), dst, len);
                    if (s == n - 1) {
                        b.scale(r, dst, len);
                    }
                    if (s < n - 1 || allReduce) {
                        cur[i][j] = b.publish(r, o[(i + 1) % n], dst, len);
                    }
                }
            }
            prev = cur;
        }
        if (allReduce) {
            passAround(b, o, prev, 0);
        }
    }

    private static void allGather(PlanBuilder b, int[] o) {
        PlanRequest req = b.request();
        int n = o.length;
        long count = req.count();
        Published[][] prev = new Published[n][];
        for (int i = 0; i < n; i++) {
            int r = o[i];
            long[] sl = PlanBuilder.pieces(count, req.chunkElements());
            prev[i] = new Published[sl.length - 1];
            for (int j = 0; j + 1 < sl.length; j++) {
                BufferRef dst = BufferRef.recv(r, r * count + sl[j]);
                b.copy(r, BufferRef.send(r, sl[j]), dst, sl[j + 1] - sl[j]);
                prev[i][j] = b.publish(r, o[(i + 1) % n], dst, sl[j + 1] - sl[j]);
            }
        }
        passAround(b, o, prev, 1);
    }

    /**
     * All-gather steps t = 1..n-1: position i copies the segment of position i-t from its predecessor's recv
     * into the same place of its own recv. {@code prev[i]} is what position i offers first.
     * {@code blocks == 1}: segments are the ALL_GATHER blocks of rank o[k]; 0: ALL_REDUCE segments.
     */
    private static void passAround(PlanBuilder b, int[] o, Published[][] prev, int blocks) {
        PlanRequest req = b.request();
        int n = o.length;
        for (int t = 1; t < n; t++) {
            Published[][] cur = new Published[n][];
            for (int i = 0; i < n; i++) {
                int r = o[i];
                int k = Math.floorMod(i - t, n);
                long start = blocks == 1 ? o[k] * req.count() : segmentStart(req, o, k);
                long length = blocks == 1 ? req.count() : segmentLength(req, o, k);
                long[] sl = PlanBuilder.pieces(length, req.chunkElements());
                cur[i] = new Published[sl.length - 1];
                for (int j = 0; j + 1 < sl.length; j++) {
                    long len = sl[j + 1] - sl[j];
                    BufferRef dst = BufferRef.recv(r, start + sl[j]);
                    b.copy(r, b.consume(r, prev[Math.floorMod(i - 1, n)][j]), dst, len);
                    if (t < n - 1) {
                        cur[i][j] = b.publish(r, o[(i + 1) % n], dst, len);
                    }
                }
            }
            prev = cur;
        }
    }

    /** REDUCE: positions after the root to the root itself, each adding its send to the predecessor's partial. */
    private static void reduceChain(PlanBuilder b, int[] o) {
        PlanRequest req = b.request();
        int n = o.length;
        int rootPos = indexOf(o, req.root());
        long[] sl = PlanBuilder.pieces(req.count(), req.chunkElements());
        Published[] prev = new Published[sl.length - 1];
        for (int k = 0; k < n; k++) {
            int r = o[(rootPos + 1 + k) % n];
            int next = o[(rootPos + 2 + k) % n];
            for (int j = 0; j + 1 < sl.length; j++) {
                long len = sl[j + 1] - sl[j];
                BufferRef acc = BufferRef.send(r, sl[j]);
                if (k > 0) {
                    BufferRef dst = r == req.root() ? BufferRef.recv(r, sl[j])
                            : b.destinationFor(r, next, len, BufferRef.scratch(r, sl[j]));
                    b.reduce(r, b.consume(r, prev[j]), acc, dst, len);
                    acc = dst;
                }
                if (r == req.root()) {
                    b.scale(r, acc, len);
                } else {
                    prev[j] = b.publish(r, next, acc, len);
                }
            }
        }
    }

    /** BROADCAST: the root copies send to recv, then each position copies its predecessor's recv. */
    private static void broadcastChain(PlanBuilder b, int[] o) {
        PlanRequest req = b.request();
        int n = o.length;
        int rootPos = indexOf(o, req.root());
        long[] sl = PlanBuilder.pieces(req.count(), req.chunkElements());
        Published[] prev = new Published[sl.length - 1];
        for (int k = 0; k < n; k++) {
            int r = o[(rootPos + k) % n];
            int next = o[(rootPos + k + 1) % n];
            for (int j = 0; j + 1 < sl.length; j++) {
                long len = sl[j + 1] - sl[j];
                BufferRef dst = BufferRef.recv(r, sl[j]);
                BufferRef src = k == 0 ? BufferRef.send(r, sl[j]) : b.consume(r, prev[j]);
                b.copy(r, src, dst, len);
                if (k < n - 1) {
                    prev[j] = b.publish(r, next, dst, len);
                }
            }
        }
    }

    private static int indexOf(int[] o, int rank) {
        for (int i = 0; i < o.length; i++) {
            if (o[i] == rank) {
                return i;
            }
        }
        throw new IllegalArgumentException("rank " + rank + " not in ring");
    }
}
