package io.cohort.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
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
 * <p>How: while the device is shared, each new stream is checked against every live stream placed since that the
 * probe may touch ({@link Probe#checkable}: idle, not captured); {@link QueueProbe} tells whether they share a
 * queue. A stream that shares one is kept aside while a new one is made (so that the driver hands out another
 * queue), and closed once one fits. After {@value #ATTEMPTS} tries the queues are taken to have run out: one
 * warning, and later streams are not checked. Setup only: about 10 us per live stream, plus the probe's timeout
 * for each stream set aside.
 *
 * @param <S> the stream type (CUDA streams; the tests' stand-ins)
 */
final class QueuePlacement<S> {
    private static final Logger LOG = LoggerFactory.getLogger(QueuePlacement.class);
    /** Most streams one check compares a new stream with (the driver has at most 32 queues). */
    static final int MAX_PEERS = 64;
    /** New streams tried before one is taken that still shares a queue (with a warning). */
    static final int ATTEMPTS = 33;

    /** What placement needs of the streams and the device. */
    interface Probe<S> {
        /** Readies the probe (allocations), once, when the device first becomes shared. */
        void prepare();

        /** Whether {@code peer} may take a probe's work now. */
        boolean checkable(S peer);

        /** How many of {@code peers} (at most {@link #MAX_PEERS}) share a hardware queue with {@code fresh}. */
        int sharing(S fresh, List<S> peers);

        void close(S stream);
    }

    private final String device;
    private final Probe<S> probe;
    private final List<S> placed = new ArrayList<>();
    private int ranks;
    private boolean exhausted;

    QueuePlacement(String device, Probe<S> probe) {
        this.device = device;
        this.probe = probe;
    }

    /** {@code ranks} ranks use the device from now on (the largest count given wins). */
    synchronized void sharedBy(int ranks) {
        boolean first = this.ranks < 2 && ranks > 1;
        this.ranks = Math.max(this.ranks, ranks);
        if (first) {   // now, before any rank's kernel could be waiting on a peer
            LOG.info("{}: shared by {} ranks: each new stream is checked for a hardware queue of its own", device,
                    this.ranks);
            probe.prepare();
        }
    }

    /** A new stream from {@code create}: on a queue no other placed stream has, while the device is shared. */
    synchronized S place(Supplier<S> create) {
        if (ranks < 2) {
            return create.get();
        }
        if (exhausted) {   // the queues ran out once: checking again would only cost the timeouts
            return keep(create.get());
        }
        List<S> setAside = new ArrayList<>();
        try {
            for (int attempt = 1; ; attempt++) {
                S s = create.get();
                int sharing;
                List<S> peers;
                try {
                    peers = checkablePeers();
                    sharing = peers.isEmpty() ? 0 : probe.sharing(s, peers);
                } catch (RuntimeException e) {   // a failed check hands out nothing and leaks nothing
                    probe.close(s);
                    throw e;
                }
                if (sharing == 0) {
                    return keep(s);
                }
                if (attempt == ATTEMPTS) {
                    exhausted = true;
                    LOG.warn("{}: a new stream shares a hardware queue with {} of the {} streams of the ranks sharing"
                            + " the device, after {} tries (raise cohort.cuda.device-max-connections?): collectives"
                            + " between them may wait until the barrier's timeout; later streams are not checked",
                            device, sharing, peers.size(), ATTEMPTS);
                    return keep(s);
                }
                LOG.info("{}: a new stream shares a hardware queue with {} rank stream(s); trying another", device,
                        sharing);
                setAside.add(s);
            }
        } finally {
            setAside.forEach(probe::close);
        }
    }

    /** A placed stream is gone. */
    synchronized void closed(S s) {
        placed.remove(s);
    }

    private S keep(S s) {
        placed.add(s);
        return s;
    }

    private List<S> checkablePeers() {
        List<S> peers = new ArrayList<>();
        for (S p : placed) {
            if (peers.size() < MAX_PEERS && probe.checkable(p)) {
                peers.add(p);
            }
        }
        return peers;
    }
}
