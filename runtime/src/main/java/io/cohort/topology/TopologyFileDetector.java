package io.cohort.topology;

import com.typesafe.config.Config;
import io.cohort.device.Device;
import java.nio.file.Path;
import java.util.List;

/**
 * A topology declared in a file ({@link TopologyFile}) instead of detected: for machines whose links the
 * driver misreports, for planning and testing without the hardware, and for pinning a known layout. Device
 * i of the group is device i of the file; the result carries the group's device names.
 */
public final class TopologyFileDetector implements TopologyDetector {

    private final Topology declared;
    private final String origin;

    public TopologyFileDetector(Path file) {
        this(TopologyFile.read(file), file.toString());
    }

    public TopologyFileDetector(Topology declared, String origin) {
        this.declared = declared;
        this.origin = origin;
    }

    /**
     * The detector the configuration asks for: a file detector when {@code cohort.topology.file} names a
     * file (relative paths against the working directory), else {@code detected} (the device kind's own).
     */
    public static TopologyDetector fromConfig(Config config, TopologyDetector detected) {
        String key = "cohort.topology.file";
        String file = config.hasPath(key) ? config.getString(key).trim() : "";
        return file.isEmpty() ? detected : new TopologyFileDetector(Path.of(file));
    }

    /** The topology as declared, with the file's device names. */
    public Topology declared() {
        return declared;
    }

    @Override
    public Topology detect(List<? extends Device> devices) {
        if (devices.size() != declared.size()) {
            throw new TopologyException("topology file " + origin + " declares " + declared.size()
                    + " devices but the group has " + devices.size() + " (" + devices.stream().map(Device::name).toList()
                    + ")");
        }
        Link[][] links = new Link[devices.size()][devices.size()];
        for (int i = 0; i < links.length; i++) {
            for (int j = 0; j < links.length; j++) {
                links[i][j] = declared.link(i, j);
            }
        }
        return new Topology(declared.name(), devices.stream().map(Device::name).toList(), links);
    }
}
