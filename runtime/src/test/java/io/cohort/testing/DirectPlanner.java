package io.cohort.testing;

import io.cohort.core.Collective;
import io.cohort.plan.Algorithm;
import io.cohort.plan.BufferRef;
import io.cohort.plan.Plan;
import io.cohort.plan.PlanRequest;
import io.cohort.plan.Planner;
import io.cohort.plan.Step;
import java.util.ArrayList;
import java.util.List;

/**
 * A deliberately simple ALL_REDUCE planner for executor tests, independent of the real planners: every
 * rank reduces all inputs itself, in rank order. With P2P on every pair it reads the peers' send buffers
 * directly (into its scratch); otherwise each rank first copies its send into its own staging and everyone
 * reads staging. Either way a rank finishes only after every peer is done reading its memory, as executors
 * require.
 */
public final class DirectPlanner implements Planner {

    static final int READY = 0;
    static final int READ = 1;

    @Override
    public Algorithm algorithm() {
        return Algorithm.ONE_SHOT;
    }

    @Override
    public Plan plan(PlanRequest request) {
        if (request.collective() != Collective.ALL_REDUCE) {
            throw new UnsupportedOperationException("test planner: ALL_REDUCE only");
        }
        int n = request.ranks();
        long count = request.count();
        boolean p2p = request.topology().fullyConnected();
        List<List<Step>> steps = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            List<Step> s = new ArrayList<>();
            if (p2p) {
                s.add(new Step.Signal(READY));
                for (int p = 0; p < n; p++) {
                    if (p != r) {
                        s.add(new Step.Wait(p, READY));
                    }
                }
                s.add(new Step.Copy(BufferRef.send(0, 0), BufferRef.scratch(r, 0), count));
                for (int p = 1; p < n; p++) {
                    s.add(new Step.Reduce(BufferRef.scratch(r, 0), BufferRef.send(p, 0), BufferRef.scratch(r, 0), count));
                }
                // recv may be send (in place): overwrite it only once no peer reads our send any more
                s.add(new Step.Signal(READ));
                for (int p = 0; p < n; p++) {
                    if (p != r) {
                        s.add(new Step.Wait(p, READ));
                    }
                }
                s.add(new Step.Copy(BufferRef.scratch(r, 0), BufferRef.recv(r, 0), count));
            } else {
                s.add(new Step.Copy(BufferRef.send(r, 0), BufferRef.staging(r, 0), count));
                s.add(new Step.Signal(READY));
                for (int p = 0; p < n; p++) {
                    if (p != r) {
                        s.add(new Step.Wait(p, READY));
                    }
                }
                s.add(new Step.Copy(BufferRef.staging(0, 0), BufferRef.recv(r, 0), count));
                for (int p = 1; p < n; p++) {
                    s.add(new Step.Reduce(BufferRef.recv(r, 0), BufferRef.staging(p, 0), BufferRef.recv(r, 0), count));
                }
                // completion: our staging may be reused (next call) only once every peer has read it
                s.add(new Step.Signal(READ));
                for (int p = 0; p < n; p++) {
                    if (p != r) {
                        s.add(new Step.Wait(p, READ));
                    }
                }
            }
            steps.add(s);
        }
        return new Plan(Collective.ALL_REDUCE, Algorithm.ONE_SHOT, n, 0, count, steps, p2p ? count : 0,
                p2p ? 0 : count, (p2p ? "direct p2p" : "direct staged") + " all-reduce of " + n + " ranks");
    }
}
