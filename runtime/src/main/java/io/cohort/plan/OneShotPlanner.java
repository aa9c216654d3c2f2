package io.cohort.plan;

import io.cohort.plan.PlanBuilder.Published;
import java.util.function.IntToLongFunction;
import java.util.stream.IntStream;

/**
 * One shot: every rank reads what it needs straight from every peer (over P2P, or from the peer's host
 * STAGING where there is none) and combines locally. One round of latency instead of a tree's depth or a
 * ring's 2(n-1) steps, at n-1 times the traffic per rank: the path for small messages.
 *
 * <ul>
 *   <li>ALL_REDUCE: rank r reduces send[0] op send[1] op ... op send[n-1] in rank order into SCRATCH (the
 *       same order on every rank, so the same bits), waits until every peer has read its send (send may be
 *       recv), then copies SCRATCH to recv. Scratch: count.</li>
 *   <li>REDUCE: the root reduces its own send and then the others' in rank order straight into its recv.</li>
 *   <li>BROADCAST: every rank copies the root's send; the root copies send to recv last, once all have read
 *       it (in place that copy is onto itself).</li>
 *   <li>REDUCE_SCATTER: rank r reduces block r of every send, in rank order, into its recv.</li>
 *   <li>ALL_GATHER: rank r copies every send into block p of its recv.</li>
 * </ul>
 */
public final class OneShotPlanner extends BasePlanner {

    @Override
    public Algorithm algorithm() {
        return Algorithm.ONE_SHOT;
    }

    @Override
    String planRanks(PlanBuilder b) {
        PlanRequest req = b.request();
        int n = b.ranks();
        long count = req.count();
        int root = req.root();
        int[] all = IntStream.range(0, n).toArray();
        switch (req.collective()) {
            case ALL_REDUCE -> {
                BufferRef[][] in = offerAll(b, all, all, r -> 0L, count);
                for (int r = 0; r < n; r++) {
                    reduceInRankOrder(b, r, in[r], BufferRef.scratch(r, 0), count);
                }
                b.barrierForReaders(all);
                for (int r = 0; r < n; r++) {
                    b.copy(r, BufferRef.scratch(r, 0), BufferRef.recv(r, 0), count);
                }
            }
            case REDUCE -> {
                BufferRef[][] in = offerAll(b, all, new int[] {root}, r -> 0L, count);
                BufferRef acc = BufferRef.recv(root, 0);
                BufferRef left = BufferRef.send(root, 0);
                for (int p = 0; p < n; p++) {
                    if (p != root) {
                        b.reduce(root, left, in[root][p], acc, count);
                        left = acc;
                    }
                }
                b.scale(root, acc, count);
            }
            case BROADCAST -> {
                BufferRef[][] in = offerAll(b, new int[] {root}, all, r -> 0L, count);
                for (int r = 0; r < n; r++) {
                    if (r != root) {
                        b.copy(r, in[r][root], BufferRef.recv(r, 0), count);
                    }
                }
                b.barrierForReaders(root);
                b.copy(root, BufferRef.send(root, 0), BufferRef.recv(root, 0), count);
            }
            case REDUCE_SCATTER -> {
                BufferRef[][] in = offerAll(b, all, all, r -> r * count, count);
                for (int r = 0; r < n; r++) {
                    reduceInRankOrder(b, r, in[r], BufferRef.recv(r, 0), count);
                }
            }
            case ALL_GATHER -> {
                BufferRef[][] in = offerAll(b, all, all, r -> 0L, count);
                for (int r = 0; r < n; r++) {
                    for (int p = 0; p < n; p++) {
                        b.copy(r, in[r][p], BufferRef.recv(r, p * count), count);
                    }
                }
            }
        }
        String who = switch (req.collective()) {
            case REDUCE -> "root " + root + " reads every rank";
            case BROADCAST -> "every rank reads root " + root;
            default -> "every rank reads every rank";
        };
        return label(req.collective()) + " one shot: " + who + ", "
                + (b.topology().fullyConnected() ? "all direct" : "staged where no P2P");
    }

    /** acc = in[0] op in[1] op ... op in[n-1], then the AVG finish: the same order, so the same bits, on every rank. */
    private static void reduceInRankOrder(PlanBuilder b, int rank, BufferRef[] in, BufferRef acc, long count) {
        b.reduce(rank, in[0], in[1], acc, count);
        for (int p = 2; p < in.length; p++) {
            b.reduce(rank, acc, in[p], acc, count);
        }
        b.scale(rank, acc, count);
    }

    /**
     * in[reader][owner]: where each reader finds {@code count} elements of each owner's send, starting at
     * {@code offset(reader)} (the reader's block for REDUCE_SCATTER). Owners publish before anyone reads,
     * so every reader waits on one signal per owner.
     */
    private static BufferRef[][] offerAll(PlanBuilder b, int[] owners, int[] readers,
                                          IntToLongFunction offset, long count) {
        int n = b.ranks();
        Published[][] pub = new Published[n][n];
        for (int owner : owners) {
            for (int reader : readers) {
                pub[reader][owner] = b.publish(owner, reader, BufferRef.send(owner, offset.applyAsLong(reader)), count);
            }
        }
        BufferRef[][] in = new BufferRef[n][n];
        for (int reader : readers) {
            for (int owner : owners) {
                in[reader][owner] = b.consume(reader, pub[reader][owner]);
            }
        }
        return in;
    }
}
