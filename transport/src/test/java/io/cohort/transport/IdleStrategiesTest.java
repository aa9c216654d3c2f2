package io.cohort.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.CohortException;
import io.cohort.core.IdlePolicy;
import org.junit.jupiter.api.Test;

/** cohort.transport.idle as the runtime's IdlePolicy: no named policy ever stops being busy (nothing could wake it). */
class IdleStrategiesTest {

    @Test
    void everyNamedPolicyStaysBusyUntilTheDeadline() {
        assertEquals(new IdlePolicy(64, -1), IdleStrategies.of("backoff"));
        assertEquals(new IdlePolicy(0, -1), IdleStrategies.of(" Yield "));
        for (String name : new String[]{"backoff", "yield", "spin"}) {
            IdlePolicy p = IdleStrategies.of(name);
            assertTrue(p.busy(0) && p.busy(1_000_000), name + " never falls through to a park");
        }
    }

    @Test
    void anUnknownNameIsRefusedNamingTheKey() {
        CohortException e = assertThrows(CohortException.class, () -> IdleStrategies.of("sleep"));
        assertEquals("cohort.transport.idle must be backoff, yield or spin, got 'sleep'", e.getMessage());
    }
}
