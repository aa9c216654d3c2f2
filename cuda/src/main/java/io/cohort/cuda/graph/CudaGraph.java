package io.cohort.cuda.graph;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;

import io.cohort.cuda.Cu;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaStream;
import io.cohort.device.DeviceException;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;

/**
 * An instantiated CUDA graph (driver API): {@link #launch} replays everything that was captured in one call,
 * on any stream of the capturing device. Made by {@link GraphCapture#capture}. Not thread-safe: one launching
 * thread at a time (launches of one graph are ordered by the streams they go to).
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaDevice device;
    private final CUgraph graph;
    private final CUgraphExec exec;
    private long launches;
    private boolean closed;

    CudaGraph(CudaDevice device, CUgraph graph, CUgraphExec exec) {
        this.device = device;
        this.graph = graph;
        this.exec = exec;
    }

    /** Enqueues one replay of the graph on {@code stream}; returns at once. */
    public void launch(CudaStream stream) {
        if (closed) {
            throw new DeviceException("launch of a closed CUDA graph on " + device.name());
        }
        stream.makeContextCurrent();
        Cu.check(cuGraphLaunch(exec, stream.cuStream()), device.name(), "cuGraphLaunch");
        launches++;
    }

    /** Replays enqueued so far. */
    public long launches() {
        return launches;
    }

    /** Destroys the executable graph and the graph; replays still queued finish first (CUDA defers the free). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.makeCurrent();
        Cu.check(cuGraphExecDestroy(exec), device.name(), "cuGraphExecDestroy");
        Cu.check(cuGraphDestroy(graph), device.name(), "cuGraphDestroy");
    }
}
