package io.cohort.cuda.p2p;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaStream;
import io.cohort.cuda.topology.CudaTopologyDetector;
import io.cohort.memory.CarvingMemoryPool;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * n ranks on the devices given (typically one GPU n times: "virtual ranks"), each with its own stream, and a
 * cuda-p2p backend over them. Peer pointers of virtual ranks are pointers into the same device, so the
 * kernels run exactly the code path of real peers; only the links differ.
 */
final class VirtualGroup implements AutoCloseable {
    final List<CudaDevice> devices;
    final List<CudaStream> streams = new ArrayList<>();
    final List<CarvingMemoryPool> pools = new ArrayList<>();
    final GroupContext group;
    final CollectiveBackend backend;
    long seq;

    VirtualGroup(CudaDevice device, int n, String config) {
        this(Collections.nCopies(n, device), config);
    }

    VirtualGroup(List<CudaDevice> devices, String config) {
        this.devices = devices;
        for (CudaDevice d : devices) {
            int shares = Collections.frequency(devices, d);
            if (shares > 1) {
                d.sharedByRanks(shares);
            }
        }
        List<RankContext> ranks = new ArrayList<>();
        for (int r = 0; r < devices.size(); r++) {
            CudaStream s = devices.get(r).createStream();
            streams.add(s);
            pools.add(CarvingMemoryPool.create(devices.get(r), 64 << 20));
            ranks.add(new RankContext(r, devices.get(r), s, pools.get(r)));
        }
        group = new GroupContext(new CudaTopologyDetector(false, 0).detect(devices), ranks, ConfigFactory.parseString(config));
        CudaP2pBackendProvider provider = new CudaP2pBackendProvider();
        provider.unavailableReason(group).ifPresent(r -> {
            throw new AssertionError("cuda-p2p unavailable: " + r);
        });
        backend = provider.create(group);
    }

    int n() {
        return devices.size();
    }

    /** Every rank enqueues collective {@code ++seq}, in rank order, from this thread. */
    void allReduce(DType t, ReduceOp op, long count, List<CudaBuffer> send, List<CudaBuffer> recv, long sendOff, long recvOff) {
        seq++;
        CollectiveCall call = CollectiveCall.allReduce(t, op, count);
        for (int r = 0; r < n(); r++) {
            backend.enqueue(r, seq, call, send.get(r).slice(sendOff, count * t.bytes()), recv.get(r).slice(recvOff, count * t.bytes()));
        }
    }

    void synchronize() {
        for (CudaStream s : streams) {
            s.synchronize();
        }
    }

    /** The host reference: fold in rank order in float, AVG scaled by (float) (1 / n), rounded once. */
    static void reference(DType t, ReduceOp op, List<MemorySegment> inputs, MemorySegment out, long count) {
        int n = inputs.size();
        float scale = (float) (1.0 / n);
        for (long i = 0; i < count; i++) {
            float acc = t.get(inputs.get(0), i);
            for (int p = 1; p < n; p++) {
                acc = op.combine(acc, t.get(inputs.get(p), i));
            }
            t.set(out, i, op == ReduceOp.AVG ? acc * scale : acc);
        }
    }

    @Override
    public void close() {
        backend.close();
        for (CudaStream s : streams) {
            s.close();
        }
        pools.forEach(CarvingMemoryPool::close);
    }
}
