package io.cohort.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A spanning tree over ranks 0..n-1, what the tree planners reduce up and broadcast down.
 *
 * @param root     the rank at the top
 * @param parent   parent of each rank; -1 for the root
 * @param children children of each rank, in the order the parent reduces them
 * @param shape    how the tree was built, for descriptions ("binary heap over 0,1,2,3")
 */
public record Tree(int root, int[] parent, List<int[]> children, String shape) {

    public Tree {
        parent = parent.clone();
        children = children.stream().map(int[]::clone).toList();
        if (parent.length != children.size() || parent[root] != -1) {
            throw new IllegalArgumentException("malformed tree rooted at " + root);
        }
    }

    /**
     * A heap-shaped tree of the given arity over {@code order}: order[0] is the root and order[i]'s children
     * are order[k*i+1 .. k*i+k].
     */
    public static Tree heap(int[] order, int arity, String shape) {
        int n = order.length;
        int[] parent = new int[n];
        List<int[]> children = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            children.add(new int[0]);
        }
        parent[order[0]] = -1;
        for (int i = 0; i < n; i++) {
            int first = arity * i + 1;
            int last = Math.min(n - 1, arity * i + arity);
            int[] kids = new int[Math.max(0, last - first + 1)];
            for (int c = first; c <= last; c++) {
                kids[c - first] = order[c];
                parent[order[c]] = order[i];
            }
            children.set(order[i], kids);
        }
        return new Tree(order[0], parent, children, shape);
    }

    public int size() {
        return parent.length;
    }

    public int[] childrenOf(int rank) {
        return children.get(rank).clone();
    }

    /** Edges from the root to the deepest leaf (0 for a single rank). */
    public int depth() {
        int depth = 0;
        for (int r = 0; r < size(); r++) {
            depth = Math.max(depth, depthOf(r));
        }
        return depth;
    }

    /** Edges from the root to {@code rank}. */
    public int depthOf(int rank) {
        int d = 0;
        for (int r = rank; parent[r] != -1; r = parent[r]) {
            d++;
        }
        return d;
    }

    /** Parents before children (breadth first, children in order). */
    public int[] preorder() {
        int[] out = new int[size()];
        int head = 0;
        int tail = 0;
        out[tail++] = root;
        while (head < tail) {
            for (int c : children.get(out[head++])) {
                out[tail++] = c;
            }
        }
        return out;
    }

    /** Children before parents: the reverse of {@link #preorder()}. */
    public int[] postorder() {
        int[] pre = preorder();
        int[] out = new int[pre.length];
        for (int i = 0; i < pre.length; i++) {
            out[i] = pre[pre.length - 1 - i];
        }
        return out;
    }

    /** Ranks of the subtree under {@code rank} (itself included), ascending. */
    public int[] subtree(int rank) {
        List<Integer> out = new ArrayList<>();
        collect(rank, out);
        return out.stream().mapToInt(Integer::intValue).sorted().toArray();
    }

    private void collect(int rank, List<Integer> out) {
        out.add(rank);
        for (int c : children.get(rank)) {
            collect(c, out);
        }
    }

    /** The edges as {@code "parent<-[children]"} in preorder, e.g. {@code "0<-[1,2] 1<-[3]"}. */
    public String edges() {
        return Arrays.stream(preorder())
                .filter(r -> children.get(r).length > 0)
                .mapToObj(r -> r + "<-" + Arrays.stream(children.get(r)).mapToObj(Integer::toString)
                        .collect(Collectors.joining(",", "[", "]")))
                .collect(Collectors.joining(" "));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tree t && root == t.root && Arrays.equals(parent, t.parent)
                && children.size() == t.children.size()
                && java.util.stream.IntStream.range(0, children.size())
                        .allMatch(i -> Arrays.equals(children.get(i), t.children.get(i)));
    }

    @Override
    public int hashCode() {
        return 31 * root + Arrays.hashCode(parent);
    }

    @Override
    public String toString() {
        return shape + ", root " + root + ", depth " + depth() + ": " + edges();
    }
}
