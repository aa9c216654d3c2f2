package io.cohort.transport;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.cuda.CudaDevices;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The cross-process NATIVE backend with CUDA devices: two JVMs, each one rank on cuda:0 (one GPU is enough: the
 * processes share it), so staging runs through CUDA streams, pinned host memory and stream memory operations
 * on flags written by the transport thread.
 */
@Tag("gpu")
class CudaBackendGpuTest {

    @Test
    void everyCollectiveOnCudaDevicesInTwoProcesses() throws Exception {
        assumeTrue(CudaDevices.count() > 0, "no CUDA device: " + CudaDevices.unavailableReason());
        try (WorkerProcesses procs = new WorkerProcesses()) {
            procs.runGroup("mp-cuda", 2, "ipc", "backend-cuda");
        }
    }
}
