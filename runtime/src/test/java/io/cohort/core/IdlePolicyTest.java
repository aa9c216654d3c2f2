package io.cohort.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

class IdlePolicyTest {

    @Test
    void spinsThenYieldsThenTellsTheWaiterToBlock() {
        IdlePolicy p = new IdlePolicy(3, 2);
        for (int round = 0; round < 5; round++) {
            assertTrue(p.busy(round), "round " + round);
            assertTrue(p.idle(round), "round " + round);
        }
        assertFalse(p.busy(5));
        assertFalse(p.idle(5));
        assertFalse(p.idle(Integer.MAX_VALUE));
    }

    @Test
    void unboundedYieldsNeverStopBeingBusy() {
        IdlePolicy p = new IdlePolicy(1, -1);
        assertTrue(p.idle(0));
        assertTrue(p.idle(1));
        assertTrue(p.idle(Integer.MAX_VALUE));
    }

    @Test
    void readsEveryWaitOfTheReferenceConfigAndRejectsNonsense() {
        assertEquals(-1, IdlePolicy.defaults("poller").yields(), "the poller never sleeps while work is pending");
        assertTrue(IdlePolicy.defaults("caller").yields() >= 0, "a caller blocks on its waker in the end");
        assertTrue(IdlePolicy.defaults("exchange").yields() >= 0);
        IdlePolicy given = IdlePolicy.of(ConfigFactory.parseString("idle.caller { spins = 7, yields = 9 }"), "caller");
        assertEquals(new IdlePolicy(7, 9), given);
        assertEquals(IdlePolicy.defaults("exchange"), IdlePolicy.of(ConfigFactory.empty(), "exchange"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new IdlePolicy(-1, 0));
        assertTrue(e.getMessage().contains("spins >= 0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new IdlePolicy(0, -2));
    }
}
