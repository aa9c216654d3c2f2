package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two and three JVM processes on this host, one rank each ({@link TransportWorker}), through aeron:ipc and UDP on
 * 127.0.0.1: results against an independent reference, a killed rank named by the survivors, a fresh group after
 * a restart, and no driver files left behind.
 */
class MultiProcessTest {

    private WorkerProcesses procs;

    @BeforeEach
    void start() throws Exception {
        procs = new WorkerProcesses();
    }

    @AfterEach
    void stop() {
        procs.close();
    }

    @Test
    void ipcTwoProcesses() throws Exception {
        procs.runGroup("mp-ipc2", 2, "ipc", "sweep");
    }

    @Test
    void ipcThreeProcesses() throws Exception {
        procs.runGroup("mp-ipc3", 3, "ipc", "sweep");
    }

    @Test
    void udpTwoProcesses() throws Exception {
        procs.runGroup("mp-udp2", 2, "udp", "sweep");
    }

    @Test
    void udpThreeProcesses() throws Exception {
        procs.runGroup("mp-udp3", 3, "udp", "small");
    }

    @Test
    void nativeBackendAcrossThreeProcessesOfTwoHostDevices() throws Exception {
        procs.runGroup("mp-backend", 3, "ipc", "backend");
    }

    @Test
    void nativeBackendNamesAKilledProcessRank() throws Exception {
        for (int r = 0; r < 2; r++) {
            procs.start("mp-backend-kill", r, 2, "ipc", "-", "backend-loop");
        }
        for (WorkerProcesses.Worker w : procs.workers) {
            w.await("COHORT READY", 30);
        }
        procs.get(1).process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        String line = procs.get(0).await("COHORT FAILED", 20);
        assertTrue(line.contains("rank 1 died"), line);
        procs.get(0).awaitExit(20);
    }

    @Test
    void killedRankIsNamedAndARestartedRankJoinsANewGroup() throws Exception {
        int n = 3;
        String group = "mp-kill";
        for (int r = 0; r < n; r++) {
            procs.start(group, r, n, "ipc", "-", "loop-then-rejoin");
        }
        for (WorkerProcesses.Worker w : procs.workers) {
            w.await("COHORT READY", 30);
        }
        WorkerProcesses.Worker victim = procs.get(2);
        victim.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        for (int r = 0; r < 2; r++) {
            String line = procs.get(r).await("COHORT FAILED", 20);
            assertTrue(line.contains("rank=2") && line.contains("rank 2"), "rank " + r + " should name rank 2: " + line);
        }
        // the killed rank restarts and, with the survivors, forms a new group
        WorkerProcesses.Worker restarted = procs.start(group + "-2", 2, n, "ipc", "-", "small");
        for (WorkerProcesses.Worker w : List.of(procs.get(0), procs.get(1), restarted)) {
            w.awaitExit(40);
        }
        procs.assertNothingLeft();
    }

    @Test
    void deathOfTheRankHostingTheSharedDriverIsNamed() throws Exception {
        int n = 3;
        for (int r = 0; r < n; r++) {
            procs.start("mp-host-kill", r, n, "ipc", "-", "loop");
        }
        for (WorkerProcesses.Worker w : procs.workers) {
            w.await("COHORT READY", 30);
        }
        procs.get(0).process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        for (int r = 1; r < n; r++) {
            String line = procs.get(r).await("COHORT FAILED", 20);
            assertTrue(line.contains("rank=0") && line.contains("rank 0"), "rank " + r + " should name rank 0: " + line);
            procs.get(r).awaitExit(20);
        }
    }
}
