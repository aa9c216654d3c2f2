package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two "processes" (threads with their own process group and host devices) holding two ranks each: a group of
 * four ranks whose collectives go local reduce, then Aeron, then back to every rank's device buffer.
 */
class ProcessGroupBackendTest {

    private static final int PROCESSES = 2;
    private static final int LOCAL = 2;

    @TempDir
    Path dir;

    @Test
    void everyCollectiveAcrossTwoProcessesOfTwoRanks() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(PROCESSES);
        try {
            List<Future<Integer>> futures = new ArrayList<>();
            for (int p = 0; p < PROCESSES; p++) {
                int process = p;
                futures.add(pool.submit(() -> runProcess(process)));
            }
            for (Future<Integer> f : futures) {
                assertTrue(f.get(60, TimeUnit.SECONDS) > 0);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void oneRankPerProcess() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Integer>> futures = new ArrayList<>();
            for (int p = 0; p < 3; p++) {
                int process = p;
                futures.add(pool.submit(() -> BackendScenario.run("backend-one", process, 3, 1, dir.toString(), "ipc")));
            }
            for (Future<Integer> f : futures) {
                assertTrue(f.get(60, TimeUnit.SECONDS) > 0);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private int runProcess(int process) {
        return BackendScenario.run("backend-test", process, PROCESSES, LOCAL, dir.toString(), "ipc");
    }
}
