package io.cohort.device.discovery;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.cohort.device.Device;
import io.cohort.device.DeviceFactory;
import io.cohort.device.DeviceKind;
import io.cohort.device.host.HostDevice;
import io.cohort.topology.HostTopologyDetector;
import io.cohort.topology.TopologyDetector;

/**
 * Host devices ({@code host:0}, {@code host:1}, ...): memory budget from {@code cohort.host.memory}, stream
 * waits bounded by {@code cohort.collective.timeout}. Any number can be opened; {@link #available()} is the
 * number of processors, what "auto" would sensibly use.
 */
public final class HostDeviceFactory implements DeviceFactory {

    private final Config cohortConfig;

    /** For ServiceLoader: the {@code cohort} section of the default configuration. */
    public HostDeviceFactory() {
        this(ConfigFactory.load().getConfig("cohort"));
    }

    public HostDeviceFactory(Config cohortConfig) {
        this.cohortConfig = cohortConfig;
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.HOST;
    }

    @Override
    public int available() {
        return Runtime.getRuntime().availableProcessors();
    }

    @Override
    public Device open(int ordinal) {
        return HostDevice.open(ordinal, options());
    }

    HostDevice.Options options() {
        HostDevice.Options options = HostDevice.Options.defaults()
                .withWaitTimeout(cohortConfig.getDuration("collective.timeout"));
        if (cohortConfig.hasPath("host.memory") && !cohortConfig.getString("host.memory").equals("auto")) {
            options = options.withTotalMemory(cohortConfig.getBytes("host.memory"));
        }
        return options;
    }

    /** Host devices of one process share memory: every pair is a direct (P2P) link. */
    @Override
    public TopologyDetector topologyDetector() {
        return new HostTopologyDetector();
    }
}
