package io.cohort.device.discovery;

import io.cohort.device.DeviceKind;
import java.util.Locale;

/**
 * Which devices to use, as written on the command line and in config: {@code host:4} (four host devices),
 * {@code cuda} (every GPU), {@code cuda:2} (the first two GPUs), {@code auto} (every GPU if there is one,
 * else {@code host:<default>}).
 *
 * @param kind  null for auto
 * @param count number of devices; 0 for "all of that kind" (auto, cuda)
 */
public record DeviceSpec(DeviceKind kind, int count) {

    public static final DeviceSpec AUTO = new DeviceSpec(null, 0);

    public DeviceSpec {
        if (count < 0) {
            throw new IllegalArgumentException("negative device count " + count);
        }
    }

    public static DeviceSpec parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("auto")) {
            return AUTO;
        }
        String[] parts = t.split(":", 2);
        DeviceKind kind = switch (parts[0]) {
            case "host", "cpu" -> DeviceKind.HOST;
            case "cuda", "gpu" -> DeviceKind.CUDA;
            default -> throw new IllegalArgumentException("unknown devices '" + text
                    + "' (expected host:N, cuda, cuda:N or auto)");
        };
        if (parts.length == 1) {
            return new DeviceSpec(kind, 0);
        }
        try {
            int n = Integer.parseInt(parts[1]);
            if (n < 1) {
                throw new IllegalArgumentException("device count must be at least 1 in '" + text + "'");
            }
            return new DeviceSpec(kind, n);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad device count in '" + text + "' (expected e.g. host:4)");
        }
    }

    public boolean auto() {
        return kind == null;
    }

    @Override
    public String toString() {
        return kind == null ? "auto" : kind.name().toLowerCase(Locale.ROOT) + (count == 0 ? "" : ":" + count);
    }
}
