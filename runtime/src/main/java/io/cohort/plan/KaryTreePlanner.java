package io.cohort.plan;

/**
 * K-ary tree with k = {@link PlanRequest#arity()}: a heap over the ranks in order starting at the root, so
 * rank order[i] has children order[k*i+1 .. k*i+k]. Depth is the least d with 1 + k + ... + k^d >= n
 * (2 for 8 ranks and k = 4). Wider trees are shallower but each parent reduces more children one after
 * another.
 */
public final class KaryTreePlanner extends TreePlanner {

    @Override
    public Algorithm algorithm() {
        return Algorithm.KARY_TREE;
    }

    @Override
    public Tree tree(PlanRequest request) {
        int k = request.arity();
        return Tree.heap(rotated(request.ranks(), request.root()), k, k + "-ary tree");
    }
}
