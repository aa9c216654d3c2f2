package io.cohort.nn.cuda;

import io.cohort.core.CohortException;
import java.util.function.Supplier;

/**
 * A native library bound on first use and shared after: a failed attempt is not kept, so the next call tries
 * (and names the places it tried) again.
 */
final class LoadOnce<T> {
    private final Supplier<T> open;
    private volatile T value;

    LoadOnce(Supplier<T> open) {
        this.open = open;
    }

    T get() {
        T v = value;
        if (v == null) {
            synchronized (this) {
                v = value;
                if (v == null) {
                    v = value = open.get();
                }
            }
        }
        return v;
    }

    /** Whether it loads here (tests' assumptions): false where loading throws a CohortException. */
    boolean available() {
        try {
            get();
            return true;
        } catch (CohortException e) {
            return false;
        }
    }
}
