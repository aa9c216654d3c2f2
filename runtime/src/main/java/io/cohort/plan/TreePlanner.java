package io.cohort.plan;

import io.cohort.plan.PlanBuilder.Published;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Plans every collective over a spanning {@link Tree}; subclasses only choose the tree.
 *
 * <ul>
 *   <li>ALL_REDUCE: reduce up (each node: own send, then its children's partials in child order, into its
 *       recv), the root finishes AVG, then broadcast down (each node copies its parent's recv). Every rank
 *       ends with the root's bits, so results are identical on all ranks. Pipelined in pieces of
 *       {@link PlanRequest#chunkElements()}: all pieces go up, then all pieces come down.</li>
 *   <li>REDUCE: the reduce-up half; partials of non-root nodes live in SCRATCH (recv is only the root's).</li>
 *   <li>BROADCAST: the root copies send to recv, then each node copies its parent's recv.</li>
 *   <li>REDUCE_SCATTER: reduce the whole count*n vector up into SCRATCH, then every rank copies its block from
 *       the root.</li>
 *   <li>ALL_GATHER: gather subtree blocks up into recv, then send each child the blocks outside its
 *       subtree (contiguous blocks move as one transfer; not sliced into pieces).</li>
 * </ul>
 * Edges without P2P are staged through the sender's host STAGING by {@link PlanBuilder#publish}.
 */
public abstract sealed class TreePlanner extends BasePlanner
        permits BinaryTreePlanner, KaryTreePlanner, BalancedTreePlanner {

    /** The tree this planner reduces over for {@code request} (rooted at the request's root). */
    public abstract Tree tree(PlanRequest request);

    @Override
    final String planRanks(PlanBuilder b) {
        PlanRequest req = b.request();
        Tree tree = tree(req);
        long count = req.count();
        long[] pieces = PlanBuilder.pieces(count, req.chunkElements());
        switch (req.collective()) {
            case ALL_REDUCE -> {
                reduceUp(b, tree, pieces, Slot.RECV, Slot.RECV, true);
                broadcastDown(b, tree, pieces, false);
            }
            case REDUCE -> reduceUp(b, tree, pieces, Slot.SCRATCH, Slot.RECV, true);
            case BROADCAST -> broadcastDown(b, tree, pieces, true);
            case REDUCE_SCATTER -> {
                int n = b.ranks();
                // the root holds the whole reduced vector; each rank scales only its own block
                reduceUp(b, tree, PlanBuilder.pieces(count * n, req.chunkElements()), Slot.SCRATCH, Slot.SCRATCH,
                        false);
                for (int r = 0; r < n; r++) {
                    BufferRef block = BufferRef.scratch(tree.root(), r * count);
                    BufferRef src = b.consume(r, b.publish(tree.root(), r, block, count));
                    b.copy(r, src, BufferRef.recv(r, 0), count);
                    b.scale(r, BufferRef.recv(r, 0), count);
                }
            }
            case ALL_GATHER -> allGather(b, tree);
        }
        String piecesNote = pieces.length > 2 ? ", " + (pieces.length - 1) + " pieces" : "";
        return label(req.collective()) + " over " + tree + piecesNote;
    }

    /**
     * Reduces up the tree in pieces. Leaves offer their send directly; an inner node reduces its send and its
     * children's partials into {@code innerSlot} (the root into {@code rootSlot}) and offers that upwards.
     * With {@code scaleAtRoot} the root finishes AVG before anything is sent back down.
     */
    private static void reduceUp(PlanBuilder b, Tree tree, long[] pieces, Slot innerSlot, Slot rootSlot,
                                 boolean scaleAtRoot) {
        int n = b.ranks();
        for (int p = 0; p + 1 < pieces.length; p++) {
            long off = pieces[p];
            long len = pieces[p + 1] - pieces[p];
            Published[] up = new Published[n];
            for (int v : tree.postorder()) {
                int[] kids = tree.childrenOf(v);
                BufferRef acc = BufferRef.send(v, off);
                if (kids.length > 0) {
                    BufferRef own = acc;
                    acc = new BufferRef(v, v == tree.root() ? rootSlot : innerSlot, off);
                    BufferRef left = own;
                    for (int c : kids) {
                        b.reduce(v, left, b.consume(v, up[c]), acc, len);
                        left = acc;
                    }
                }
                if (v != tree.root()) {
                    up[v] = b.publish(v, tree.parent()[v], acc, len);
                } else if (scaleAtRoot) {
                    b.scale(v, acc, len);
                }
            }
        }
    }

    /** Copies the root's recv (or, when {@code fromSend}, its send first into its recv) down the tree. */
    private static void broadcastDown(PlanBuilder b, Tree tree, long[] pieces, boolean fromSend) {
        int n = b.ranks();
        for (int p = 0; p + 1 < pieces.length; p++) {
            long off = pieces[p];
            long len = pieces[p + 1] - pieces[p];
            Published[] down = new Published[n];
            for (int v : tree.preorder()) {
                BufferRef mine = BufferRef.recv(v, off);
                if (v == tree.root()) {
                    if (fromSend) {
                        b.copy(v, BufferRef.send(v, off), mine, len);
                    }
                } else {
                    b.copy(v, b.consume(v, down[v]), mine, len);
                }
                for (int c : tree.childrenOf(v)) {
                    down[c] = b.publish(v, c, mine, len);
                }
            }
        }
    }

    private static void allGather(PlanBuilder b, Tree tree) {
        int n = b.ranks();
        long count = b.request().count();
        for (int v : tree.postorder()) {
            b.copy(v, BufferRef.send(v, 0), BufferRef.recv(v, v * count), count);
            for (int c : tree.childrenOf(v)) {
                for (int[] run : runs(tree.subtree(c))) {
                    moveBlocks(b, c, v, run, count);
                }
            }
        }
        for (int v : tree.preorder()) {
            for (int c : tree.childrenOf(v)) {
                for (int[] run : runs(complement(tree.subtree(c), n))) {
                    moveBlocks(b, v, c, run, count);
                }
            }
        }
    }

    /** Copies blocks run[0]..run[1]-1 from {@code from}'s recv into {@code to}'s recv. */
    private static void moveBlocks(PlanBuilder b, int from, int to, int[] run, long count) {
        long off = run[0] * count;
        long len = (run[1] - run[0]) * count;
        BufferRef src = b.consume(to, b.publish(from, to, BufferRef.recv(from, off), len));
        b.copy(to, src, BufferRef.recv(to, off), len);
    }

    /** Maximal runs [first, end) of consecutive values in ascending {@code ranks}. */
    static List<int[]> runs(int[] ranks) {
        List<int[]> out = new ArrayList<>();
        int i = 0;
        while (i < ranks.length) {
            int j = i;
            while (j + 1 < ranks.length && ranks[j + 1] == ranks[j] + 1) {
                j++;
            }
            out.add(new int[] {ranks[i], ranks[j] + 1});
            i = j + 1;
        }
        return out;
    }

    private static int[] complement(int[] ranks, int n) {
        boolean[] in = new boolean[n];
        for (int r : ranks) {
            in[r] = true;
        }
        return java.util.stream.IntStream.range(0, n).filter(r -> !in[r]).toArray();
    }

    /** Ranks 0..n-1 rotated so that {@code root} comes first. */
    static int[] rotated(int n, int root) {
        int[] order = new int[n];
        Arrays.setAll(order, i -> (root + i) % n);
        return order;
    }
}
