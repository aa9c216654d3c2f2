package io.cohort.transport;

import io.cohort.core.CohortException;
import java.util.Locale;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

/** The idle strategies {@code cohort.transport.idle} names. */
final class IdleStrategies {
    private IdleStrategies() {
    }

    static IdleStrategy of(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            // spin briefly, yield, then park up to 50 us: low latency without burning a core while a peer is slow
            case "backoff" -> new BackoffIdleStrategy(64, 16, 1_000, 50_000);
            case "yield" -> YieldingIdleStrategy.INSTANCE;
            case "spin" -> BusySpinIdleStrategy.INSTANCE;
            default -> throw new CohortException("cohort.transport.idle must be backoff, yield or spin, got '" + name + "'");
        };
    }
}
