package io.cohort.plan;

/**
 * Binary tree: a heap over the ranks in order starting at the root (root, root+1, ..., wrapping), so rank
 * order[i] has children order[2i+1] and order[2i+2]. Depth is floor(log2 n): 3 on 8 ranks. Ignores the
 * topology's link quality (edges without P2P are staged); see {@link BalancedTreePlanner} for the
 * topology-shaped tree.
 */
public final class BinaryTreePlanner extends TreePlanner {

    @Override
    public Algorithm algorithm() {
        return Algorithm.BINARY_TREE;
    }

    @Override
    public Tree tree(PlanRequest request) {
        return Tree.heap(rotated(request.ranks(), request.root()), 2, "binary tree");
    }
}
