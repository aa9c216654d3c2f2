package io.cohort.transport;

import io.cohort.core.CohortException;
import io.cohort.core.IdlePolicy;
import java.util.Locale;

/**
 * The waits {@code cohort.transport.idle} names, as the runtime's one idle abstraction ({@link IdlePolicy}).
 * What a rank waits for here (a peer's frames in the Aeron log, a local stream's ready flag) has no waker: Aeron
 * and the device write memory that can only be polled. So no policy parks: each spins, then yields until the
 * wait's own deadline (progress-timeout, stage-timeout, connect-timeout) ends it; yielding hands the core to
 * whoever the rank waits for.
 */
final class IdleStrategies {
    private IdleStrategies() {
    }

    static IdlePolicy of(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "backoff" -> new IdlePolicy(64, -1);
            case "yield" -> new IdlePolicy(0, -1);
            case "spin" -> new IdlePolicy(Integer.MAX_VALUE, -1);
            default -> throw new CohortException("cohort.transport.idle must be backoff, yield or spin, got '" + name + "'");
        };
    }
}
