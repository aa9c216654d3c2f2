package io.cohort.device.discovery;

import io.cohort.device.DeviceKind;
import java.util.Locale;

/**
 * Which devices to use, as written on the command line and in config: {@code host:4} (four host devices),
 * {@code cuda} (every GPU), {@code cuda:2} (the first two GPUs), {@code auto} (every GPU if there is one,
 * else {@code host:<default>}), and {@code cuda:0*2} / {@code host:0*4} (two or four ranks on the one device
 * with that ordinal).
 *
 * <p>The shared form is an aid for development and testing: it runs the code paths of several ranks (their
 * own streams, their own pools, the P2P kernels reading "peer" memory) on one GPU. Its figures measure one
 * device doing every rank's work and are never figures of a multi-GPU group.
 *
 * @param kind          null for auto
 * @param count         number of devices (ranks for the shared form); 0 for "all of that kind" (auto, cuda)
 * @param sharedOrdinal the one device every rank shares ({@code cuda:0*2}), or -1 for one rank per device
 */
public record DeviceSpec(DeviceKind kind, int count, int sharedOrdinal) {

    public static final DeviceSpec AUTO = new DeviceSpec(null, 0);
    /** Ranks one shared device may carry; more is a typo, not a test. */
    public static final int MAX_SHARED_RANKS = 8;
    private static final String FORMS = "expected host:N, cuda, cuda:N, cuda:D*R (R ranks on device D) or auto";

    public DeviceSpec {
        if (count < 0) {
            throw new IllegalArgumentException("negative device count " + count);
        }
        if (sharedOrdinal >= 0 && (kind == null || count < 1)) {
            throw new IllegalArgumentException("a shared device needs a kind and at least one rank");
        }
    }

    public DeviceSpec(DeviceKind kind, int count) {
        this(kind, count, -1);
    }

    /** {@code ranks} ranks on device {@code ordinal} of {@code kind}. */
    public static DeviceSpec shared(DeviceKind kind, int ordinal, int ranks) {
        return new DeviceSpec(kind, ranks, ordinal);
    }

    /** Parses a spec; a mistake is an IllegalArgumentException with a one-line message naming the text. */
    public static DeviceSpec parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("auto")) {
            return AUTO;
        }
        String[] parts = t.split(":", 2);
        DeviceKind kind = switch (parts[0]) {
            case "host", "cpu" -> DeviceKind.HOST;
            case "cuda", "gpu" -> DeviceKind.CUDA;
            default -> throw new IllegalArgumentException("unknown devices '" + text + "' (" + FORMS + ")");
        };
        if (parts.length == 1) {
            return new DeviceSpec(kind, 0);
        }
        String rest = parts[1].trim();
        int star = rest.indexOf('*');
        if (star >= 0) {
            int ordinal = number(rest.substring(0, star), text, "device ordinal");
            int ranks = number(rest.substring(star + 1), text, "rank count");
            if (ranks < 1 || ranks > MAX_SHARED_RANKS) {
                throw new IllegalArgumentException("rank count must be 1.." + MAX_SHARED_RANKS + " in '" + text + "'");
            }
            return shared(kind, ordinal, ranks);
        }
        int n = number(rest, text, "device count");
        if (n < 1) {
            throw new IllegalArgumentException("device count must be at least 1 in '" + text + "'");
        }
        return new DeviceSpec(kind, n);
    }

    private static int number(String s, String text, String what) {
        try {
            int n = Integer.parseInt(s.trim());
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad " + what + " '" + s.trim() + "' in '" + text + "' (" + FORMS + ")");
        }
    }

    public boolean auto() {
        return kind == null;
    }

    /** Whether every rank runs on one device ({@code cuda:0*2}). */
    public boolean shared() {
        return sharedOrdinal >= 0;
    }

    @Override
    public String toString() {
        if (kind == null) {
            return "auto";
        }
        String k = kind.name().toLowerCase(Locale.ROOT);
        if (shared()) {
            return k + ":" + sharedOrdinal + "*" + count;
        }
        return k + (count == 0 ? "" : ":" + count);
    }
}
