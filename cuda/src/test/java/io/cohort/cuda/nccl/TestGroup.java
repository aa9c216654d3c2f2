package io.cohort.cuda.nccl;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.testing.FakeBuffer;
import io.cohort.cuda.nccl.FakeCuda.FakeDevice;
import io.cohort.cuda.nccl.FakeCuda.FakeStream;
import io.cohort.device.DeviceKind;
import io.cohort.topology.Link;
import io.cohort.topology.LinkKind;
import io.cohort.topology.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;

/** A group of fake CUDA ranks around a {@link FakeNccl}, sharing one call log. */
final class TestGroup {

    final List<String> log = Collections.synchronizedList(new ArrayList<>());
    final FakeNccl nccl = new FakeNccl(log);
    final int size;
    final List<FakeDevice> devices = new ArrayList<>();
    final List<FakeStream> streams = new ArrayList<>();
    final List<RankContext> ranks = new ArrayList<>();

    /** {@code size} ranks, of which {@code local} run here, on cuda:rank. */
    TestGroup(int size, int... local) {
        this.size = size;
        for (int r : local) {
            FakeDevice d = new FakeDevice(r, DeviceKind.CUDA, log);
            FakeStream s = (FakeCuda.FakeStream) d.createStream();
            devices.add(d);
            streams.add(s);
            ranks.add(new RankContext(r, d, s, null));
        }
    }

    static TestGroup allLocal(int size) {
        return new TestGroup(size, IntStream.range(0, size).toArray());
    }

    GroupContext context() {
        List<String> names = IntStream.range(0, size).mapToObj(i -> "cuda:" + i).toList();
        Topology t = Topology.uniform("fake", names, new Link(true, LinkKind.NVLINK, 18, 0, Double.NaN, Double.NaN));
        return new GroupContext(t, ranks, ConfigFactory.empty());
    }

    /** Defaults, but no watchdog thread (the async error is polled at enqueue) unless a test wants one. */
    static NcclSettings settings() {
        return NcclSettings.defaults().withAsyncErrorPoll(Duration.ZERO);
    }

    NcclBackend backend() {
        return new NcclBackend(nccl, context(), settings());
    }

    NcclBackend backend(NcclSettings settings) {
        return new NcclBackend(nccl, context(), settings);
    }

    FakeBuffer buffer(int localIndex, long bytes) {
        return devices.get(localIndex).allocate(bytes);
    }

    /** Log lines that name an NCCL function (not stream operations). */
    List<String> ncclCalls() {
        synchronized (log) {
            return log.stream().filter(l -> l.startsWith("nccl")).toList();
        }
    }
}
