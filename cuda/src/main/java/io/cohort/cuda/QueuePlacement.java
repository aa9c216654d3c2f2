package io.cohort.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import jcuda.driver.CUfunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts the streams of ranks that share one GPU ({@code cuda:0*N}) on hardware work queues of their own.
 *
 * <p>Why: the GPU runs streams on a few hardware queues (CUDA_DEVICE_MAX_CONNECTIONS), and kernels in one queue
 * start in order. A rank's P2P kernel spins until its peers' kernels run beside it; when a peer's stream shares
 * its queue, the peer's kernel waits behind the spinning one, and both give up at the barrier's timeout. With
 * one queue that happens to every collective; at 32 it happened about once in ten GPU test runs.
 *
 * <p>How: while the device is shared, each new stream is checked against every live stream made since, that is
 * idle and not being captured. A one-thread kernel on the new stream waits (with a short timeout) for a flag
 * that a kernel on the other stream sets, launched after it: on a queue of their own both run and the wait ends
 * at once; on a shared queue the setter waits behind the waiter, which times out. A stream that shares a queue
 * is kept aside while a new one is made (so the driver hands out another queue), and closed once one fits.
 * Setup only: about 10 us per live stream, plus the timeout for each stream set aside.
 */
final class QueuePlacement {
    private static final Logger LOG = LoggerFactory.getLogger(QueuePlacement.class);
    /** Most streams one check compares a new stream with (the driver has at most 32 queues). */
    static final int MAX_PEERS = 64;
    /** New streams tried before one is taken that still shares a queue (with a warning). */
    static final int ATTEMPTS = 33;

    private final CudaDevice device;
    private final long timeoutNs;
    private final List<CudaStream> placed = new ArrayList<>();
    // struct FlagArgs { flag, value, timeout_ns, error }
    private final KernelArgs args = new KernelArgs(4);
    private final MemorySegment captureStatus = Arena.ofAuto().allocate(4, 4);   // the stream's own is its thread's
    private CudaBuffer flags;    // MAX_PEERS device words the setters write, with values that only grow
    private CudaBuffer errors;   // MAX_PEERS pinned host words a timed-out waiter reports into
    private long value;
    private int ranks;
    private boolean warned;

    QueuePlacement(CudaDevice device, Duration timeout) {
        this.device = device;
        this.timeoutNs = timeout.toNanos();
    }

    /** {@code ranks} ranks use the device from now on (the largest count given wins). */
    synchronized void sharedBy(int ranks) {
        this.ranks = Math.max(this.ranks, ranks);
        if (this.ranks > 1 && flags == null) {   // now, before any rank's kernel could be waiting on a peer
            LOG.info("{}: shared by {} ranks: each new stream is checked for a hardware queue of its own", device.name(),
                    this.ranks);
            flags = device.allocate(8L * MAX_PEERS);
            device.zeroSync(flags);
            errors = device.allocatePinnedHost(4L * MAX_PEERS);
        }
    }

    /** A new stream from {@code create}: on a queue no other checked stream has, while the device is shared. */
    synchronized CudaStream place(Supplier<CudaStream> create) {
        if (ranks < 2) {
            return create.get();
        }
        if (warned) {   // the queues ran out once: checking again would only cost the timeouts
            CudaStream s = create.get();
            placed.add(s);
            return s;
        }
        List<CudaStream> setAside = new ArrayList<>();
        try {
            for (int attempt = 1; ; attempt++) {
                CudaStream s = create.get();
                List<CudaStream> peers = checkablePeers();
                int sharing = sharingQueue(s, peers);
                if (sharing == 0 || attempt == ATTEMPTS) {
                    if (sharing > 0 && !warned) {
                        warned = true;
                        LOG.warn("{}: a new stream shares a hardware queue with {} of the {} streams of the ranks sharing"
                                + " the device, after {} tries (raise cohort.cuda.device-max-connections?):"
                                + " collectives between them may wait until the barrier's timeout; later streams"
                                + " are not checked", device.name(), sharing, peers.size(), ATTEMPTS);
                    }
                    placed.add(s);
                    return s;
                }
                LOG.info("{}: a new stream shares a hardware queue with {} rank stream(s); trying another",
                        device.name(), sharing);
                setAside.add(s);
            }
        } finally {
            setAside.forEach(CudaStream::close);
        }
    }

    /** A placed stream is gone. */
    synchronized void closed(CudaStream s) {
        placed.remove(s);
    }

    /** Streams a check may touch: idle (a setter behind others' work would look like a shared queue) and not captured. */
    private List<CudaStream> checkablePeers() {
        List<CudaStream> peers = new ArrayList<>();
        for (CudaStream p : placed) {
            if (peers.size() < MAX_PEERS && !p.isClosed() && !p.isCapturing(captureStatus) && p.isIdle()) {
                peers.add(p);
            }
        }
        return peers;
    }

    /** How many of {@code peers} share a hardware queue with {@code s}. */
    private int sharingQueue(CudaStream s, List<CudaStream> peers) {
        if (peers.isEmpty()) {
            return 0;
        }
        long v = ++value;
        for (int i = 0; i < peers.size(); i++) {
            errors.segment().set(ValueLayout.JAVA_INT, 4L * i, 0);
        }
        // every wait first, then every setter: a setter on s's queue is then behind all of them
        for (int i = 0; i < peers.size(); i++) {
            launch(device.kernels().waitValue(), s, i, v, timeoutNs, errors.address() + 4L * i);
        }
        for (int i = 0; i < peers.size(); i++) {
            launch(device.kernels().writeValue(), peers.get(i), i, v, 0, 0);
        }
        s.awaitIdle(Duration.ofNanos(timeoutNs * peers.size()).plusSeconds(10));   // its waits report into errors
        int sharing = 0;
        for (int i = 0; i < peers.size(); i++) {
            if (errors.segment().get(ValueLayout.JAVA_INT, 4L * i) != 0) {
                sharing++;
            }
        }
        return sharing;
    }

    private void launch(CUfunction f, CudaStream on, int slot, long v, long timeout, long error) {
        args.set(0, flags.address() + 8L * slot);
        args.set(1, v);
        args.set(2, timeout);
        args.set(3, error);
        device.launch(f, 1, 1, on.nativeHandle(), args, "hardware queue check");
    }
}
