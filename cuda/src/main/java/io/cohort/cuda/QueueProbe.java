package io.cohort.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import jcuda.driver.CUfunction;

/**
 * Whether two streams of one GPU share a hardware queue, found by running: a one-thread kernel on the new stream
 * waits (with a short timeout) for a flag that a kernel on the other stream sets, launched after it. On queues of
 * their own both run and the wait ends at once; on a shared queue the setter waits behind the waiter, which times
 * out. The kernels are the flag kernels of {@link CudaStream#waitValue} (elementwise.cu), with this class's flags
 * and error words, so nothing touches the device's error word.
 */
final class QueueProbe implements QueuePlacement.Probe<CudaStream> {
    private final CudaDevice device;
    private final long timeoutNs;
    // struct FlagArgs { flag, value, timeout_ns, error }
    private final KernelArgs args = new KernelArgs(4);
    private final MemorySegment captureStatus = Arena.ofAuto().allocate(4, 4);   // the stream's own is its thread's
    private CudaBuffer flags;    // MAX_PEERS device words the setters write, with values that only grow
    private CudaBuffer errors;   // MAX_PEERS pinned host words a timed-out waiter reports into
    private long value;

    QueueProbe(CudaDevice device, Duration timeout) {
        this.device = device;
        this.timeoutNs = timeout.toNanos();
    }

    @Override
    public void prepare() {
        flags = device.allocate(8L * QueuePlacement.MAX_PEERS);
        device.zeroSync(flags);
        errors = device.allocatePinnedHost(4L * QueuePlacement.MAX_PEERS);
    }

    /** Idle (a setter behind others' work would look like a shared queue) and not being captured. */
    @Override
    public boolean checkable(CudaStream peer) {
        return !peer.isClosed() && !peer.isCapturing(captureStatus) && peer.isIdle();
    }

    @Override
    public int sharing(CudaStream fresh, List<CudaStream> peers) {
        long v = ++value;
        for (int i = 0; i < peers.size(); i++) {
            errors.segment().set(ValueLayout.JAVA_INT, 4L * i, 0);
        }
        // every wait first, then every setter: a setter on fresh's queue is then behind all of them
        for (int i = 0; i < peers.size(); i++) {
            launch(device.kernels().waitValue(), fresh, i, v, timeoutNs, errors.address() + 4L * i);
        }
        for (int i = 0; i < peers.size(); i++) {
            launch(device.kernels().writeValue(), peers.get(i), i, v, 0, 0);
        }
        fresh.awaitIdle(Duration.ofNanos(timeoutNs * peers.size()).plusSeconds(10));   // its waits report into errors
        int sharing = 0;
        for (int i = 0; i < peers.size(); i++) {
            if (errors.segment().get(ValueLayout.JAVA_INT, 4L * i) != 0) {
                sharing++;
            }
        }
        return sharing;
    }

    @Override
    public void close(CudaStream stream) {
        stream.close();
    }

    private void launch(CUfunction f, CudaStream on, int slot, long v, long timeout, long error) {
        args.set(0, flags.address() + 8L * slot);
        args.set(1, v);
        args.set(2, timeout);
        args.set(3, error);
        device.launch(f, 1, 1, on.nativeHandle(), args, "hardware queue check");
    }
}
