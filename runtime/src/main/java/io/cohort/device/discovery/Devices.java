package io.cohort.device.discovery;

import com.typesafe.config.Config;
import io.cohort.core.CohortException;
import io.cohort.device.Device;
import io.cohort.device.DeviceFactory;
import io.cohort.device.DeviceKind;
import io.cohort.topology.Topology;
import io.cohort.topology.TopologyFileDetector;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Opens devices through the {@link DeviceFactory} providers on the class path (host always; CUDA if cuda/ is there). */
public final class Devices {
    private static final Logger log = LoggerFactory.getLogger(Devices.class);

    private Devices() {
    }

    /**
     * Devices opened for a spec, rank r = devices.get(r), and why these (e.g. "no CUDA device found, using
     * host:4"). For a shared spec ({@code cuda:0*2}) the same device object appears once per rank.
     */
    public record Selection(List<Device> devices, String reason) {

        /** Whether some ranks share a device (a development aid: never a multi-GPU figure). */
        public boolean shared() {
            return distinct(devices).size() < devices.size();
        }

        /** Closes every device once. */
        public void close() {
            closeAll(devices);
        }
    }

    /** The devices of {@code ranks} without repeats, in first-rank order. */
    public static List<Device> distinct(List<? extends Device> ranks) {
        List<Device> result = new ArrayList<>();
        for (Device d : ranks) {
            if (result.stream().noneMatch(x -> x == d)) {
                result.add(d);
            }
        }
        return result;
    }

    /** Closes each device of {@code ranks} once, even where several ranks share it. */
    public static void closeAll(List<? extends Device> ranks) {
        distinct(ranks).forEach(Device::close);
    }

    public static List<DeviceFactory> factories() {
        List<DeviceFactory> result = new ArrayList<>();
        ServiceLoader.load(DeviceFactory.class).forEach(result::add);
        return result;
    }

    public static Optional<DeviceFactory> factory(DeviceKind kind) {
        return factories().stream().filter(f -> f.kind() == kind).findFirst();
    }

    /**
     * Opens the devices of {@code spec}, host devices configured by {@code cohortConfig}; the caller closes
     * them. Auto: every GPU if any, else {@code cohort.devices.host-count} host devices.
     */
    public static Selection open(DeviceSpec spec, Config cohortConfig) {
        int defaultHostCount = cohortConfig.getInt("devices.host-count");
        DeviceKind kind = spec.kind();
        int count = spec.count();
        String reason;
        if (spec.auto()) {
            int gpus = factory(DeviceKind.CUDA).map(Devices::availableQuietly).orElse(0);
            if (gpus > 0) {
                kind = DeviceKind.CUDA;
                reason = "auto: " + gpus + " CUDA device(s) found";
            } else {
                kind = DeviceKind.HOST;
                count = defaultHostCount;
                reason = "auto: no CUDA device found, using host:" + defaultHostCount;
            }
        } else {
            reason = "requested " + spec;
        }
        DeviceKind k = kind;
        DeviceFactory factory = k == DeviceKind.HOST ? new HostDeviceFactory(cohortConfig) : factory(k).orElseThrow(() -> new CohortException("no provider of " + k
                + " devices on the class path" + (k == DeviceKind.CUDA ? " (is cohort-cuda there?)" : "")));
        int available = availableQuietly(factory);
        if (spec.shared()) {
            return openShared(spec, factory, available, reason);
        }
        if (count == 0) {
            count = k == DeviceKind.HOST ? defaultHostCount : available;
        }
        int maxHost = cohortConfig.hasPath("host.max-devices") ? cohortConfig.getInt("host.max-devices") : 256;
        if (k == DeviceKind.HOST && count > maxHost) {
            throw new CohortException("host:" + count + " asks for more host devices than the bound of " + maxHost
                    + " (cohort.host.max-devices)");
        }
        if (count == 0 || (k != DeviceKind.HOST && count > available)) {
            throw new CohortException("asked for " + (count == 0 ? "all" : count) + " " + k + " devices, "
                    + available + " available");
        }
        List<Device> opened = new ArrayList<>(count);
        try {
            for (int i = 0; i < count; i++) {
                opened.add(factory.open(i));
            }
        } catch (RuntimeException e) {
            opened.forEach(Device::close);
            throw e;
        }
        log.info("devices: {} ({})", opened.stream().map(Device::name).toList(), reason);
        return new Selection(List.copyOf(opened), reason);
    }

    /** One device, {@code spec.count()} times: every rank gets the same device object (its own stream and pool). */
    private static Selection openShared(DeviceSpec spec, DeviceFactory factory, int available, String reason) {
        int ordinal = spec.sharedOrdinal();
        if (spec.kind() != DeviceKind.HOST && ordinal >= available) {
            throw new CohortException("asked for " + spec + ": no " + spec.kind() + " device " + ordinal + ", "
                    + available + " available");
        }
        Device device = factory.open(ordinal);
        device.sharedByRanks(spec.count());
        List<Device> ranks = java.util.Collections.nCopies(spec.count(), device);
        log.info("devices: {} ranks on {} ({}; shared device: a development aid, not a multi-device figure)",
                spec.count(), device.name(), reason);
        return new Selection(List.copyOf(ranks), reason + ", " + spec.count() + " ranks on " + device.name());
    }

    /**
     * The topology of devices of one kind: from {@code cohort.topology.file} when set (e.g. to plan for
     * links the detector cannot see), else from that kind's detector.
     */
    public static Topology topology(List<? extends Device> devices, Config cohortConfig) {
        DeviceKind kind = devices.getFirst().kind();
        for (Device d : devices) {
            if (d.kind() != kind) {
                throw new CohortException("a group mixes " + kind + " and " + d.kind() + " devices (" + d.name() + ")");
            }
        }
        DeviceFactory factory = factory(kind).orElseThrow(() -> new CohortException("no provider of " + kind + " devices"));
        return TopologyFileDetector.fromConfig(cohortConfig.atPath("cohort"), factory.topologyDetector()).detect(devices);
    }

    private static int availableQuietly(DeviceFactory f) {
        try {
            return f.available();
        } catch (RuntimeException | LinkageError e) {
            log.debug("{} devices unavailable: {}", f.kind(), e.toString());
            return 0;
        }
    }
}
