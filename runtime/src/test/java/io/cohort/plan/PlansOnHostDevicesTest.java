package io.cohort.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceStream;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.exec.PlanExecutor;
import io.cohort.memory.CarvingMemoryPool;
import io.cohort.memory.MemoryPool;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyFileDetector;
import io.cohort.topology.TopologyFiles;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The planners' plans on real host devices through the plan executor: every algorithm and collective, with
 * P2P (nvlink-4) and fully staged (nop2p-4), in place where allowed, two collectives back to back, ranks
 * enqueued in reverse order.
 */
class PlansOnHostDevicesTest {

    private static final int N = 4;
    private static List<HostDevice> devices;
    private static List<DeviceStream> streams;
    private static List<MemoryPool> scratch;
    private static List<MemoryPool> staging;

    @BeforeAll
    static void open() {
        devices = HostDevices.open(N, new HostDevice.Options(64L << 20, Duration.ofSeconds(20)));
        streams = new ArrayList<>();
        scratch = new ArrayList<>();
        staging = new ArrayList<>();
        for (HostDevice d : devices) {
            streams.add(d.createStream());
            scratch.add(CarvingMemoryPool.create(d, 4L << 20));
            staging.add(CarvingMemoryPool.create(d, 4L << 20, CarvingMemoryPool.Source.PINNED_HOST));
        }
    }

    @AfterAll
    static void close() {
        streams.forEach(DeviceStream::close);
        scratch.forEach(MemoryPool::close);
        staging.forEach(MemoryPool::close);
        HostDevices.closeAll(devices);
    }

    @Test
    void everyAlgorithmAndCollectiveComputesTheReference() {
        for (String file : List.of("nvlink-4", "nop2p-4")) {
            Topology t = new TopologyFileDetector(TopologyFiles.file(file)).detect(devices);
            for (Algorithm a : Algorithm.values()) {
                for (Collective c : Collective.values()) {
                    for (ReduceOp op : c.reduces() ? new ReduceOp[] {ReduceOp.SUM, ReduceOp.AVG} : new ReduceOp[] {ReduceOp.SUM}) {
                        for (boolean inPlace : PlannerSimulationTest.inPlaceModes(c)) {
                            run(t, a, new PlanRequest(c, t, 37, c.rooted() ? 2 : 0, 2, 8), op, inPlace);
                        }
                    }
                }
            }
        }
    }

    private static void run(Topology t, Algorithm a, PlanRequest req, ReduceOp op, boolean inPlace) {
        Plan plan = Planners.plan(a, req);
        Collective c = req.collective();
        long sendCount = c.sendCount(req.count(), N);
        long recvCount = c.recvCount(req.count(), N);
        DType type = DType.F32;
        Random random = new Random(7);
        try (PlanExecutor exec = new PlanExecutor(plan, type, devices, streams, scratch, staging::get, t)) {
            DeviceBuffer[] send = new DeviceBuffer[N];
            DeviceBuffer[] recv = new DeviceBuffer[N];
            for (int r = 0; r < N; r++) {
                send[r] = devices.get(r).allocate(sendCount * type.bytes());
                recv[r] = inPlace ? send[r] : devices.get(r).allocate(recvCount * type.bytes());
            }
            try {
                for (long seq = 1; seq <= 2; seq++) {
                    float[][] data = new float[N][(int) sendCount];
                    for (int r = 0; r < N; r++) {
                        for (int i = 0; i < sendCount; i++) {
                            data[r][i] = random.nextInt(9) - 4;
                            type.set(send[r].segment(), i, data[r][i]);
                        }
                    }
                    for (int r = N - 1; r >= 0; r--) {
                        exec.enqueue(r, seq, op, send, recv);
                    }
                    streams.forEach(DeviceStream::synchronize);
                    double[][] expected = CollectiveReference.expected(c, op, data, req.count(), req.root());
                    for (int r = 0; r < N; r++) {
                        for (int i = 0; i < expected[r].length; i++) {
                            assertEquals(expected[r][i], type.get(recv[r].segment(), i), 1e-5,
                                    a + " " + c + " " + op + (inPlace ? " in place" : "") + " on " + t.name() + " run " + seq
                                            + " rank " + r + " element " + i);
                        }
                    }
                }
            } finally {
                for (int r = 0; r < N; r++) {
                    devices.get(r).free(send[r]);
                    if (!inPlace) {
                        devices.get(r).free(recv[r]);
                    }
                }
            }
        }
    }
}
