package io.cohort.cuda;

import static jcuda.driver.JCudaDriver.cuCtxEnablePeerAccess;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceCanAccessPeer;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceGetPCIBusId;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemHostAlloc;
import static jcuda.driver.JCudaDriver.cuMemHostGetDevicePointer;
import static jcuda.driver.JCudaDriver.cuMemsetD8;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitValue64;
import static jcuda.driver.JCudaDriver.cuStreamWriteValue64;

import io.cohort.device.Device;
import io.cohort.device.DeviceBuffer;
import io.cohort.device.DeviceException;
import io.cohort.device.DeviceKind;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamWaitValue_flags;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One NVIDIA GPU through the CUDA driver API (JCuda). Work runs in the device's primary context, retained
 * once per process and made current on the calling thread before every driver call (cheap, and robust when
 * other libraries on the same thread switch contexts). One instance per ordinal per process
 * ({@link CudaDevices}), so {@code buffer.device() == device} identifies memory; {@link #close()} keeps the
 * primary context, which lives as long as the process.
 */
public final class CudaDevice implements Device {

    private static final Logger LOG = LoggerFactory.getLogger(CudaDevice.class);
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final int HOST_ALLOC_FLAGS = JCudaDriver.CU_MEMHOSTALLOC_PORTABLE | JCudaDriver.CU_MEMHOSTALLOC_DEVICEMAP;

    private final int ordinal;
    private final CUdevice device;
    private final CUcontext context;
    private final String name;
    private final String model;
    private final String pciBusId;
    private final long totalMemory;
    private final int multiprocessors;
    private final int computeCapability;
    private final CudaConfig config;
    private final FlagOps flagOps;
    private final CudaBuffer errorWord;
    private final Set<Integer> peersEnabled = ConcurrentHashMap.newKeySet();
    private final byte[] peerAccess = new byte[64];   // by peer ordinal: 0 unknown, 1 yes, 2 no
    private final CudaKernels kernels;
    private final long contextHandle;
    private final QueuePlacement<CudaStream> queues;
    private final CompletionWords completionWords = new CompletionWords(this);

    CudaDevice(int ordinal, CudaConfig config) {
        this.ordinal = ordinal;
        this.config = config;
        String where = "cuda:" + ordinal;
        this.device = new CUdevice();
        Cu.check(cuDeviceGet(device, ordinal), where, "cuDeviceGet");
        this.context = new CUcontext();
        Cu.check(cuDevicePrimaryCtxRetain(context, device), where, "cuDevicePrimaryCtxRetain");
        makeCurrent();
        byte[] nameBytes = new byte[256];
        Cu.check(cuDeviceGetName(nameBytes, nameBytes.length, device), where, "cuDeviceGetName");
        int len = 0;
        while (len < nameBytes.length && nameBytes[len] != 0) {
            len++;
        }
        this.model = new String(nameBytes, 0, len, StandardCharsets.US_ASCII);
        this.name = where + " (" + model + ")";
        String[] bus = new String[1];
        Cu.check(cuDeviceGetPCIBusId(bus, 64, device), where, "cuDeviceGetPCIBusId");
        this.pciBusId = bus[0].trim();
        long[] total = new long[1];
        Cu.check(cuDeviceTotalMem(total, device), where, "cuDeviceTotalMem");
        this.totalMemory = total[0];
        this.multiprocessors = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        this.computeCapability = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) * 10
                + attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        this.errorWord = allocatePinnedHost(256);
        this.flagOps = config.flagOps() != null ? config.flagOps() : probeStreamMemoryOps();
        this.contextHandle = Jcu.handle(context);
        // Loaded now, not on first use: a module load waits for the context's pending work, which may be
        // a stream blocked on a peer's flag that the loading thread itself was about to enqueue.
        this.kernels = new CudaKernels(this);
        this.queues = new QueuePlacement<>(name, new QueueProbe(this, config.queueCheckTimeout()));
        LOG.debug("{}: {} SMs, cc {}, {} MiB, PCI {}, flags via {}", name, multiprocessors, computeCapability,
                totalMemory >> 20, pciBusId, flagOps);
    }

    /** Whether cuStreamWriteValue64 / cuStreamWaitValue64 work here (probed once on a scratch word). */
    private FlagOps probeStreamMemoryOps() {
        CUstream s = new CUstream();
        Cu.check(cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING), name, "cuStreamCreate");
        try {
            CUdeviceptr word = Jcu.device(errorWord.address() + 64);
            int w = cuStreamWriteValue64(s, word, 7, 0);
            int r = w == CUresult.CUDA_SUCCESS
                    ? cuStreamWaitValue64(s, word, 7, CUstreamWaitValue_flags.CU_STREAM_WAIT_VALUE_GEQ) : w;
            Cu.check(cuStreamSynchronize(s), name, "cuStreamSynchronize");
            if (r == CUresult.CUDA_SUCCESS && errorWord.segment().get(ValueLayout.JAVA_LONG, 64) == 7) {
                return FlagOps.STREAM_MEMORY_OPS;
            }
            LOG.info("{}: stream memory operations unavailable ({}), flags use kernels", name, Cu.name(r));
            return FlagOps.KERNELS;
        } finally {
            cuStreamDestroy(s);
        }
    }

    int attribute(int attribute) {
        int[] v = new int[1];
        Cu.check(cuDeviceGetAttribute(v, attribute, device), name, "cuDeviceGetAttribute(" + attribute + ")");
        return v[0];
    }

    /** Makes this device's primary context current on the calling thread. */
    public void makeCurrent() {
        int r = contextHandle != 0 ? DriverCalls.ctxSetCurrent(contextHandle) : cuCtxSetCurrent(context);
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cu.error(r, "cuda:" + ordinal, "cuCtxSetCurrent");
        }
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.CUDA;
    }

    @Override
    public int ordinal() {
        return ordinal;
    }

    @Override
    public String name() {
        return name;
    }

    /** The GPU's model, e.g. "NVIDIA H100 80GB HBM3". */
    public String model() {
        return model;
    }

    /** PCI bus id as CUDA prints it, e.g. "0000:18:00.0". */
    public String pciBusId() {
        return pciBusId;
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    /** Compute capability as major * 10 + minor (90 for Hopper). */
    public int computeCapability() {
        return computeCapability;
    }

    public CudaConfig config() {
        return config;
    }

    /** How streams of this device implement writeValue / waitValue by default. */
    public FlagOps flagOps() {
        return flagOps;
    }

    CUcontext context() {
        return context;
    }

    long contextHandle() {
        return contextHandle;
    }

    CUdevice cuDevice() {
        return device;
    }

    @Override
    public long totalMemory() {
        return totalMemory;
    }

    @Override
    public long freeMemory() {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        Cu.check(cuMemGetInfo(free, total), name, "cuMemGetInfo");
        return free[0];
    }

    @Override
    public CudaBuffer allocate(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation " + bytes + " on " + name);
        }
        makeCurrent();
        CUdeviceptr p = new CUdeviceptr();
        Cu.check(cuMemAlloc(p, Math.max(bytes, 1)), name, "cuMemAlloc(" + bytes + " bytes)");
        return new CudaBuffer(this, Jcu.handle(p), bytes, null, null);
    }

    @Override
    public CudaBuffer allocatePinnedHost(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation " + bytes + " on " + name);
        }
        makeCurrent();
        Pointer host = new Pointer();
        Cu.check(cuMemHostAlloc(host, Math.max(bytes, 1), HOST_ALLOC_FLAGS), name, "cuMemHostAlloc(" + bytes + " bytes)");
        CUdeviceptr mapped = new CUdeviceptr();
        Cu.check(cuMemHostGetDevicePointer(mapped, host, 0), name, "cuMemHostGetDevicePointer");
        MemorySegment segment = MemorySegment.ofAddress(Jcu.handle(host)).reinterpret(bytes);
        segment.fill((byte) 0);
        return new CudaBuffer(this, Jcu.handle(mapped), bytes, segment, null);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        if (!(buffer instanceof CudaBuffer b) || b.device() != this) {
            throw new DeviceException(name + ": free of a buffer this device did not allocate: " + buffer);
        }
        if (!b.isAllocation()) {
            throw new DeviceException(name + ": free of a slice " + b + "; free the allocation it was cut from");
        }
        synchronized (b) {
            if (b.freed) {
                throw new DeviceException(name + ": double free of " + b);
            }
            b.freed = true;
        }
        makeCurrent();
        if (b.isPinnedHost()) {
            Cu.check(cuMemFreeHost(Jcu.host(b.segment().address())), name, "cuMemFreeHost");
        } else {
            Cu.check(cuMemFree(Jcu.device(b.address())), name, "cuMemFree");
        }
    }

    /** Fills device memory with zero bytes and waits (setup paths only). */
    public void zeroSync(CudaBuffer buffer) {
        makeCurrent();
        Cu.check(cuMemsetD8(Jcu.device(buffer.address()), (byte) 0, buffer.byteSize()), name, "cuMemsetD8");
    }

    /** A new stream; while ranks share the device, on a hardware queue of its own ({@link QueuePlacement}). */
    @Override
    public CudaStream createStream() {
        return createStream(flagOps);
    }

    /** A stream whose writeValue / waitValue use {@code ops} regardless of the device default. */
    public CudaStream createStream(FlagOps ops) {
        return queues.place(() -> new CudaStream(this, ops));
    }

    /**
     * From now on {@code ranks} ranks use this GPU at once: their streams are placed on hardware queues of their
     * own, so that a rank's P2P kernel spinning for a peer never holds the peer's kernel back.
     */
    @Override
    public void sharedByRanks(int ranks) {
        queues.sharedBy(ranks);
    }

    void streamClosed(CudaStream stream) {
        queues.closed(stream);
    }

    @Override
    public CudaEvent createEvent() {
        return new CudaEvent(this, false);
    }

    /**
     * An event polled for completion, with a host word its stream sets behind each record where the driver has
     * stream memory operations and {@code cohort.cuda.completion-words} is on (polling it reads memory); a plain
     * event otherwise. Record it outside graph captures only (a captured word write would replay a stale number).
     */
    @Override
    public CudaEvent createCompletionEvent() {
        if (!config.completionWords() || flagOps != FlagOps.STREAM_MEMORY_OPS) {
            return createEvent();
        }
        return new CudaEvent(this, false, completionWords.take());
    }

    CompletionWords completionWords() {
        return completionWords;
    }

    /** An event that can time work ({@link CudaEvent#elapsedMillis}). */
    public CudaEvent createTimingEvent() {
        return new CudaEvent(this, true);
    }

    @Override
    public boolean canAccessPeer(Device peer) {
        if (!(peer instanceof CudaDevice other)) {
            return false;
        }
        if (other.ordinal == ordinal) {
            return true;
        }
        byte known = other.ordinal < peerAccess.length ? peerAccess[other.ordinal] : 0;
        if (known != 0) {
            return known == 1;
        }
        int[] can = new int[1];
        Cu.check(cuDeviceCanAccessPeer(can, device, other.device), name, "cuDeviceCanAccessPeer(" + other.name + ")");
        if (other.ordinal < peerAccess.length) {
            peerAccess[other.ordinal] = (byte) (can[0] != 0 ? 1 : 2);
        }
        return can[0] != 0;
    }

    @Override
    public void enablePeerAccess(Device peer) {
        if (!canAccessPeer(peer)) {
            throw new DeviceException(name + " cannot access " + peer.name() + " directly (no P2P between them)");
        }
        CudaDevice other = (CudaDevice) peer;
        if (other.ordinal == ordinal || peersEnabled.contains(other.ordinal)) {
            return;
        }
        synchronized (peersEnabled) {
            if (peersEnabled.contains(other.ordinal)) {
                return;
            }
            makeCurrent();
            int r = cuCtxEnablePeerAccess(other.context, 0);
            if (r != CUresult.CUDA_SUCCESS && r != CUresult.CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) {
                throw Cu.error(r, name, "cuCtxEnablePeerAccess(" + other.name + ")");
            }
            peersEnabled.add(other.ordinal);
        }
    }

    /** Whether P2P access to {@code peer} was enabled (always true for this device itself). */
    public boolean peerAccessEnabled(CudaDevice peer) {
        return peer.ordinal == ordinal || peersEnabled.contains(peer.ordinal);
    }

    /** This device's kernels (loaded when the device opened). */
    public CudaKernels kernels() {
        return kernels;
    }

    /** Launches {@code f} (1-D grid) with the argument block {@code args}: one native call, no allocation. */
    public void launch(CUfunction f, int grid, int block, long stream, KernelArgs args, String what) {
        launch(f, grid, block, stream, args, what, false);
    }

    /**
     * A launch that may, with {@code programmatic}, be scheduled while the kernel before it on the stream still
     * runs (programmatic dependent launch): the kernel must wait for it on the device (griddepcontrol.wait)
     * before touching what it wrote. Ignored where {@link #hasProgrammaticLaunch} is false.
     */
    public void launch(CUfunction f, int grid, int block, long stream, KernelArgs args, String what,
                       boolean programmatic) {
        makeCurrent();
        int r = programmatic && hasProgrammaticLaunch()
                ? DriverCalls.launchProgrammatic(Jcu.handle(f), grid, block, stream, args.programmatic(), args.params())
                : DriverCalls.launch(Jcu.handle(f), grid, block, stream, args.params());
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cu.error(r, name, "launch of " + what + " (" + grid + " x " + block + ")");
        }
    }

    /** Whether this device and driver have programmatic dependent launch (compute capability 9.0 and later). */
    public boolean hasProgrammaticLaunch() {
        return computeCapability >= 90 && DriverCalls.hasLaunchEx();
    }

    /** Address of the 32-bit word kernels report errors into (see {@link KernelError}). */
    public long errorWordAddress() {
        return errorWord.address();
    }

    /** The kernel-reported error as an exception, without clearing it; null if none. */
    DeviceException peekKernelError() {
        int word = (int) INT.getVolatile(errorWord.segment(), 0L);
        return word == 0 ? null : new DeviceException(name + ": " + KernelError.decode(word).describe());
    }

    /** Reads and clears the error word; throws a DeviceException describing a kernel-reported error. */
    void checkKernelErrors() {
        int word = (int) INT.getAndSet(errorWord.segment(), 0L, 0);
        if (word != 0) {
            throw new DeviceException(name + ": " + KernelError.decode(word).describe());
        }
    }

    /** Nothing to release: the primary context and the module stay for the process (see class comment). */
    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return name;
    }
}
