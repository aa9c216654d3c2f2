package io.cohort.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cohort.device.DeviceException;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

/** Driver results become DeviceExceptions naming device, call and CUresult (no GPU needed). */
class CuErrorsTest {

    @Test
    void successPasses() {
        assertDoesNotThrow(() -> Cu.check(CUresult.CUDA_SUCCESS, "cuda:0", "cuMemAlloc"));
    }

    @Test
    void failureNamesDeviceCallAndResult() {
        DeviceException e = assertThrows(DeviceException.class,
                () -> Cu.check(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "cuda:1 (NVIDIA H100)", "cuMemAlloc(1024 bytes)"));
        assertEquals("cuda:1 (NVIDIA H100): cuMemAlloc(1024 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)", e.getMessage());
        assertTrue(Cu.name(CUresult.CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED).contains("PEER_ACCESS_ALREADY_ENABLED"));
        assertEquals("CUresult 99999", Cu.name(99999));
    }

    @Test
    void kernelErrorsDecode() {
        KernelError e = KernelError.decode(KernelError.BARRIER_TIMEOUT | 3 << 8 | 5 << 16);
        assertEquals(new KernelError(KernelError.BARRIER_TIMEOUT, 3, 5), e);
        assertTrue(e.describe().contains("rank 3 waited for rank 5"), e.describe());
        assertTrue(KernelError.decode(KernelError.WAIT_TIMEOUT).describe().contains("waitValue"));
    }
}
