package io.cohort.jmh;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.core.DType;
import io.cohort.device.Tensor;
import io.cohort.device.host.HostDevice;
import io.cohort.device.host.HostDevices;
import io.cohort.device.host.HostWaitPolicy;
import io.cohort.group.LocalGroup;
import java.util.List;

/** A {@link LocalGroup} of host devices with one f32 tensor per rank: what the group benchmarks share. */
final class HostGroupState implements AutoCloseable {

    final List<HostDevice> devices;
    final LocalGroup group;
    final Tensor[] data;

    /**
     * @param wait "default" (reference.conf's cohort.host.wait) or "SPIN/YIELD" durations, e.g. "5us/0us",
     *             with the default parks
     */
    HostGroupState(int ranks, int count, String wait) {
        devices = HostDevices.open(ranks, HostDevice.Options.defaults().withTotalMemory(256L << 20)
                .withWaitPolicy(policy(wait)));
        group = LocalGroup.builder(devices).poolCapacity(32L << 20).open();
        data = new Tensor[ranks];
        for (int r = 0; r < ranks; r++) {
            data[r] = new Tensor(devices.get(r).allocate((long) count * DType.F32.bytes()), DType.F32, count);
        }
    }

    static HostWaitPolicy policy(String wait) {
        if (wait.equals("default")) {
            return HostWaitPolicy.defaults();
        }
        String[] parts = wait.split("/");
        Config given = ConfigFactory.parseString("spin = " + parts[0] + "\nyield = " + parts[1]);
        return HostWaitPolicy.from(given.withFallback(ConfigFactory.defaultReference().getConfig("cohort.host.wait")));
    }

    @Override
    public void close() {
        group.close();
        HostDevices.closeAll(devices);
    }
}
