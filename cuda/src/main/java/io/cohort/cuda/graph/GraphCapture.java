package io.cohort.cuda.graph;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import io.cohort.core.CohortException;
import io.cohort.cuda.Cu;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.CudaStream;
import io.cohort.cuda.p2p.CudaP2pBackend;
import io.cohort.device.DeviceStream;
import io.cohort.group.LocalGroup;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;

/**
 * Cohort collectives inside CUDA graphs (stream capture through the driver API), for an application that
 * captures its own work: a decode step with its all-reduces, replayed per token.
 *
 * <pre>{@code
 * try (GraphCapture capture = GraphCapture.prepare(group)) {        // before any capture: allocates, zeroes
 *     CudaStream app = device.createStream();
 *     CudaGraph step = GraphCapture.capture(app, () -> {
 *         myKernels(app);                                             // the application's own work
 *         capture.join(app, () -> group.allReduce(x, ReduceOp.SUM));  // Cohort's, on the group's streams
 *         moreKernels(app);
 *     });
 *     for (int token = 0; token < n; token++) {
 *         step.launch(app);                                           // one call per step
 *     }
 * }
 * }</pre>
 *
 * <p>{@link #join} forks the group's streams from the capturing stream (an event each way), so what the
 * collective enqueues on them becomes part of the same graph, ordered after the work before it and before
 * the work after it. It orders the same way outside a capture, so the code runs eagerly too.
 *
 * <p>Backends: the cuda-p2p all-reduce detects the capture and launches its graph kernels, which advance
 * their epoch and staging parity on the device at every replay ({@link CudaP2pBackend#prepareGraphs});
 * NCCL captures natively. Collectives that wait on the host (the plan and native backends' host staging)
 * cannot be captured. Several ranks on one GPU in one graph rely on the graph's branches running at once,
 * as their streams do eagerly.
 */
public final class GraphCapture implements AutoCloseable {
    private final LocalGroup group;
    private final List<CudaEvent> fork = new ArrayList<>();
    private final List<CudaEvent> joinBack = new ArrayList<>();

    private GraphCapture(LocalGroup group) {
        this.group = group;
        for (int r = 0; r < group.ranks(); r++) {
            DeviceStream s = group.stream(r);
            if (!(s instanceof CudaStream cs)) {
                throw new CohortException("graph capture needs CUDA devices; rank " + r + " runs on "
                        + s.device().name());
            }
            fork.add(cs.device().createEvent());
            joinBack.add(cs.device().createEvent());
        }
    }

    /**
     * Readies {@code group} for capture: the cuda-p2p backend's graph resources, the fork/join events. Call it
     * before any capture begins (it allocates and zeroes device memory, which a capture forbids).
     */
    public static GraphCapture prepare(LocalGroup group) {
        if (group.backend() instanceof CudaP2pBackend p2p) {
            p2p.prepareGraphs();
        }
        return new GraphCapture(group);
    }

    public LocalGroup group() {
        return group;
    }

    /**
     * Runs {@code enqueue} (Cohort collectives of this group, enqueued on its streams) ordered after the work
     * on {@code stream} so far, and orders {@code stream}'s later work after it. While {@code stream} is
     * capturing, the group's streams join the capture, and the collective is part of the graph.
     */
    public void join(CudaStream stream, Runnable enqueue) {
        for (int r = 0; r < group.ranks(); r++) {
            DeviceStream s = group.stream(r);
            if (s == stream) {
                continue;
            }
            stream.record(fork.get(r));
            s.waitFor(fork.get(r));
        }
        enqueue.run();
        for (int r = 0; r < group.ranks(); r++) {
            DeviceStream s = group.stream(r);
            if (s == stream) {
                continue;
            }
            s.record(joinBack.get(r));
            stream.waitFor(joinBack.get(r));
        }
    }

    /**
     * Captures what {@code work} enqueues on {@code stream} (and on streams it joins, e.g. through
     * {@link #join}) into an instantiated graph. Thread-local capture mode: the calling thread must not make
     * synchronizing calls inside {@code work}; other threads are not affected. If {@code work} fails the
     * capture is ended and discarded.
     */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        stream.makeContextCurrent();
        String where = stream.device().name();
        Cu.check(cuStreamBeginCapture(stream.cuStream(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                where, "cuStreamBeginCapture");
        CUgraph graph = new CUgraph();
        try {
            work.run();
        } catch (RuntimeException e) {
            stream.makeContextCurrent();
            int ended = cuStreamEndCapture(stream.cuStream(), graph);
            if (ended == 0) {
                cuGraphDestroy(graph);
            }
            throw e;
        }
        stream.makeContextCurrent();
        Cu.check(cuStreamEndCapture(stream.cuStream(), graph), where,
                "cuStreamEndCapture (was the capture invalidated by a synchronizing call inside it?)");
        CUgraphExec exec = new CUgraphExec();
        int r = cuGraphInstantiate(exec, graph, 0);
        if (r != 0) {
            cuGraphDestroy(graph);
            Cu.check(r, where, "cuGraphInstantiate");
        }
        return new CudaGraph(stream.device(), graph, exec);
    }

    @Override
    public void close() {
        fork.forEach(CudaEvent::close);
        joinBack.forEach(CudaEvent::close);
    }
}
