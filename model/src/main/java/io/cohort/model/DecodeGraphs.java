package io.cohort.model;

import io.cohort.core.CohortException;
import io.cohort.cuda.graph.CudaGraph;
import io.cohort.cuda.graph.GraphCapture;
import io.cohort.nn.AllReduceGroup;
import io.cohort.nn.Matrix;
import io.cohort.nn.StreamOrderedAllReduce;
import io.cohort.nn.TensorOps;
import io.cohort.nn.cuda.CudaTensorOps;
import java.time.Duration;
import java.util.List;

/**
 * The decode step of every rank captured once into a CUDA graph and replayed per token. Rank r captures on its
 * own thread (thread-local capture) on its compute stream; its stream-ordered all-reduces join the capture
 * through their events, and the cuda-p2p backend launches its graph kernels (epoch and staging parity kept on
 * the device). Position and token are not baked in: while capturing, {@link CudaTensorOps#stepInputs} makes the
 * position-dependent ops read them from the rank's step block, which the host fills before every launch and the
 * step's first op copies into device memory (a copy node in the graph).
 *
 * <p>Captured at the first single-token step after an eager one (which sized every scratch buffer the step
 * uses: a capture must not allocate or synchronize). A graph holds one batch bucket: one token.
 *
 * <p>No rank launches its graph before every rank has instantiated its own: a launched graph's all-reduce kernel
 * spins on the device until the other ranks' kernels run, and {@code cuGraphInstantiate} of a rank sharing that
 * device may wait for the device's running work (seen at tp = 4 on one H200: three ranks spinning, the fourth
 * blocked in instantiate). The ranks meet once per capture, on the host, with a deadline.
 */
final class DecodeGraphs implements AutoCloseable {
    private final CudaTensorOps[] ops;
    private final CudaGraph[] graphs;
    private final Matrix[] logits;
    private final RankRendezvous instantiated;
    private volatile boolean warm;

    /** How long a rank waits for the others to capture theirs (capture and instantiate take milliseconds). */
    static final Duration CAPTURE_TIMEOUT = Duration.ofSeconds(60);

    private DecodeGraphs(CudaTensorOps[] ops) {
        this.ops = ops;
        this.graphs = new CudaGraph[ops.length];
        this.logits = new Matrix[ops.length];
        this.instantiated = new RankRendezvous(ops.length, CAPTURE_TIMEOUT, "capture their decode graphs");
    }

    /** Checks that every rank can capture and readies the all-reduce backend (allocations, before any capture). */
    static DecodeGraphs prepare(List<TensorOps> ops, AllReduceGroup group) {
        CudaTensorOps[] cuda = new CudaTensorOps[ops.size()];
        for (int r = 0; r < cuda.length; r++) {
            if (!(ops.get(r) instanceof CudaTensorOps c)) {
                throw new CohortException("decode graphs need CUDA devices; rank " + r + " runs on "
                        + ops.get(r).device().name());
            }
            cuda[r] = c;
            c.prepareGraphs();
        }
        if (cuda.length > 1) {
            if (!(group instanceof StreamOrderedAllReduce ordered)) {
                throw new CohortException("decode graphs need stream-ordered all-reduces (a collective backend), not "
                        + group.describe());
            }
            ordered.prepareForGraphs();
        }
        return new DecodeGraphs(cuda);
    }

    /** Whether an eager single-token step has run, so a step may be captured. */
    boolean ready(int position) {
        return warm;
    }

    void warmed() {
        warm = true;
    }

    /** Rank r's decode step (on rank r's thread): captured on first use, then replayed. The logits' view. */
    Matrix step(int r, LlamaRank rank, int[] tokens, int position) {
        CudaTensorOps o = ops[r];
        o.setStep(position, tokens);
        if (graphs[r] == null) {
            Matrix[] out = new Matrix[1];
            o.stepInputs(true);
            try {
                graphs[r] = GraphCapture.capture(o.stream(),
                        () -> out[0] = rank.forward(tokens, position, LlamaRank.Logits.LAST));
            } catch (RuntimeException e) {
                instantiated.abandon();
                throw e;
            } finally {
                o.stepInputs(false);
            }
            logits[r] = out[0];
            instantiated.arrive(r);
        }
        graphs[r].launch(o.stream());
        return logits[r];
    }

    @Override
    public void close() {
        for (CudaGraph g : graphs) {
            if (g != null) {
                g.close();
            }
        }
    }
}
