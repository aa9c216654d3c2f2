package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.core.IdlePolicy;
import java.util.concurrent.atomic.AtomicInteger;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

/** The CUDA wait loop against a scripted driver query: what it returns, and that the deadline ends it. */
class DriverWaitTest {

    private static final IdlePolicy POLICY = new IdlePolicy(3, -1);

    @Test
    void returnsTheFirstAnswerThatIsNotNotReady() {
        AtomicInteger polls = new AtomicInteger();
        int r = DriverWait.until(() -> polls.incrementAndGet() < 50 ? CUresult.CUDA_ERROR_NOT_READY : CUresult.CUDA_SUCCESS,
                POLICY, System.nanoTime() + 10_000_000_000L);
        assertEquals(CUresult.CUDA_SUCCESS, r);
        assertEquals(50, polls.get(), "past the spins it keeps polling (yielding), never parked on a timer");
        assertEquals(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS,
                DriverWait.until(() -> CUresult.CUDA_ERROR_ILLEGAL_ADDRESS, POLICY, System.nanoTime() + 1_000_000L));
    }

    @Test
    void workThatNeverFinishesEndsAtTheDeadline() {
        long start = System.nanoTime();
        int r = DriverWait.until(() -> CUresult.CUDA_ERROR_NOT_READY, POLICY, start + 20_000_000L);
        long waited = System.nanoTime() - start;
        assertEquals(DriverWait.TIMED_OUT, r);
        assertTrue(waited >= 20_000_000L, "not before the deadline: " + waited + " ns");
    }
}
