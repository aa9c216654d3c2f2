package io.cohort.cuda;

import io.cohort.device.DeviceException;
import jcuda.driver.CUresult;

/** Maps CUDA driver results to {@link DeviceException}s that name the device, the call and the CUresult. */
public final class Cu {
    private Cu() {
    }

    /** Throws unless {@code result} is CUDA_SUCCESS; {@code where} names the device, {@code call} the operation. */
    public static void check(int result, String where, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw error(result, where, call);
        }
    }

    public static DeviceException error(int result, String where, String call) {
        return new DeviceException(where + ": " + call + " failed: " + name(result) + " (" + result + ")");
    }

    /** The CUresult's name, e.g. CUDA_ERROR_OUT_OF_MEMORY. */
    public static String name(int result) {
        String s = CUresult.stringFor(result);
        return s.startsWith("INVALID CUresult") ? "CUresult " + result : s;
    }
}
