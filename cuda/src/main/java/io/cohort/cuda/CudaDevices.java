package io.cohort.cuda;

import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuInit;

import io.cohort.device.DeviceException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process's CUDA devices: initializes the driver once and hands out one {@link CudaDevice} per ordinal.
 * Where JCuda's native library or the driver is missing, {@link #count()} is 0 and nothing throws, so callers
 * (and gpu tests) can skip cleanly.
 */
public final class CudaDevices {

    private static final Logger LOG = LoggerFactory.getLogger(CudaDevices.class);
    private static final Object LOCK = new Object();
    private static volatile int count = -1;
    private static volatile String unavailableReason;
    private static CudaDevice[] devices;

    private CudaDevices() {
    }

    /** Number of CUDA devices, 0 if there is no usable driver. */
    public static int count() {
        int c = count;
        if (c >= 0) {
            return c;
        }
        synchronized (LOCK) {
            if (count >= 0) {
                return count;
            }
            try {
                JCudaDriver.setExceptionsEnabled(false);
                DriverEnvironment.beforeInit();
                int r = cuInit(0);
                if (r != CUresult.CUDA_SUCCESS) {
                    unavailableReason = "cuInit failed: " + Cu.name(r);
                    count = 0;
                } else {
                    int[] n = new int[1];
                    r = cuDeviceGetCount(n);
                    count = r == CUresult.CUDA_SUCCESS ? n[0] : 0;
                    unavailableReason = count == 0 ? "no CUDA device (" + Cu.name(r) + ")" : null;
                }
            } catch (Throwable t) {   // UnsatisfiedLinkError and friends: no JCuda natives or no libcuda
                String message = String.valueOf(t.getMessage()).lines().findFirst().orElse("");
                unavailableReason = "CUDA driver not loadable: " + t.getClass().getSimpleName() + ": " + message;
                count = 0;
            }
            if (unavailableReason != null) {
                LOG.debug("CUDA unavailable: {}", unavailableReason);
            }
            devices = new CudaDevice[count];
            return count;
        }
    }

    /** Why {@link #count()} is 0; null when devices exist. */
    public static String unavailableReason() {
        count();
        return unavailableReason;
    }

    /** The device of {@code ordinal}, opened (primary context retained) on first use. */
    public static CudaDevice open(int ordinal) {
        int n = count();
        if (ordinal < 0 || ordinal >= n) {
            throw new DeviceException("no CUDA device " + ordinal + " (" + n + " present"
                    + (unavailableReason == null ? "" : ": " + unavailableReason) + ")");
        }
        synchronized (LOCK) {
            if (devices[ordinal] == null) {
                devices[ordinal] = new CudaDevice(ordinal, CudaConfig.defaults());
            }
            return devices[ordinal];
        }
    }

    public static List<CudaDevice> open(int... ordinals) {
        List<CudaDevice> result = new ArrayList<>();
        for (int o : ordinals) {
            result.add(open(o));
        }
        return result;
    }

    /** Every device, with peer access enabled between every pair that allows it. */
    public static List<CudaDevice> openAll() {
        List<CudaDevice> result = new ArrayList<>();
        for (int i = 0; i < count(); i++) {
            result.add(open(i));
        }
        enablePeerAccess(result);
        return result;
    }

    /** Enables P2P access both ways for every pair of {@code devices} where cuDeviceCanAccessPeer allows it. */
    public static void enablePeerAccess(List<CudaDevice> devices) {
        for (CudaDevice a : devices) {
            for (CudaDevice b : devices) {
                if (a != b && a.canAccessPeer(b)) {
                    a.enablePeerAccess(b);
                }
            }
        }
    }

    /** Parses "all", "0", "0,2,3", "0-3" (and mixes like "0-1,3") into ordinals, in order, without repeats. */
    public static int[] parseSpec(String spec, int available) {
        String s = spec.trim();
        if (s.equalsIgnoreCase("all")) {
            int[] all = new int[available];
            for (int i = 0; i < available; i++) {
                all[i] = i;
            }
            return all;
        }
        Set<Integer> ordinals = new LinkedHashSet<>();
        for (String part : s.split(",")) {
            String p = part.trim();
            try {
                int dash = p.indexOf('-');
                if (dash > 0) {
                    int from = Integer.parseInt(p.substring(0, dash).trim());
                    int to = Integer.parseInt(p.substring(dash + 1).trim());
                    if (to < from) {
                        throw new IllegalArgumentException("device range '" + p + "' runs backwards");
                    }
                    for (int i = from; i <= to; i++) {
                        ordinals.add(i);
                    }
                } else {
                    ordinals.add(Integer.parseInt(p));
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad device spec '" + spec + "' (expected all, 0, 0,1 or 0-3)");
            }
        }
        for (int o : ordinals) {
            if (o < 0 || o >= available) {
                throw new IllegalArgumentException("device " + o + " in '" + spec + "' does not exist (" + available + " present)");
            }
        }
        return ordinals.stream().mapToInt(Integer::intValue).toArray();
    }
}
