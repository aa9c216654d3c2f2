package io.cohort.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cohort.cuda.CudaDevices;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** On a GPU machine: every collective through the actor runtime on every GPU, and a short bench beside NCCL. */
@Tag("gpu")
class GpuSelftestTest {

    @BeforeEach
    void needsGpu() {
        assumeTrue(CudaDevices.count() > 0, "needs a GPU: " + CudaDevices.unavailableReason());
    }

    @Test
    void selftestPassesOnEveryGpu() {
        CliTest.Run run = CliTest.cohort("selftest", "--devices", "cuda");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains(" 0 failed"), run.out());
    }

    @Test
    void selftestPassesWithTwoRanksOnOneGpu() {
        // through the actor API: each rank on a lane of GPU 0 (own stream and pool); a development aid only
        CliTest.Run run = CliTest.cohort("selftest", "--devices", "cuda:0*2", "--backends", "p2p,native");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains(" 0 failed"), run.out());
    }

    @Test
    void benchOnGpusHasNoWrongResults() {
        CliTest.Run run = CliTest.cohort("bench", "--devices", "cuda", "--backends", "auto,native", "--dtype", "bf16",
                "--max-bytes", "4M", "--iters", "5", "--warmup", "3");
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("# Out of bounds values : 0 OK"), run.out());
    }
}
