package io.cohort.cuda.bench;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.CollectiveBackend;
import io.cohort.backend.CollectiveCall;
import io.cohort.backend.GroupContext;
import io.cohort.backend.RankContext;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.cuda.CudaBuffer;
import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaDevices;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.CudaStream;
import io.cohort.cuda.p2p.CudaP2pBackendProvider;
import io.cohort.cuda.topology.CudaTopologyDetector;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * Where the host's time goes in one small all-reduce on CUDA ranks, below the actor API (issue 13: the
 * {@code cohort bench} round trip on {@code cuda:0*2} is about 28 us against a one-shot kernel of about 6 us).
 * One thread, 8 KiB f32, {@value #CALLS} calls after {@value #WARMUP} warm-up calls, p50 and p99 of each step:
 * <ul>
 *   <li>{@code enqueue}: the backend's enqueue for every rank;</li>
 *   <li>{@code record}: an event record per rank (what the group sequencer does behind the enqueue);</li>
 *   <li>{@code query_cached}: asking an event already seen complete (no driver call since 2026-12-02 s15; it was
 *       a cuEventQuery of 1.7 us);</li>
 *   <li>{@code isCapturing}, {@code makeCurrent}: the driver calls every launch makes besides the launch;</li>
 *   <li>{@code rt_events}: enqueue, record, then poll every rank's event until complete (the sequencer's loop
 *       without the actors' bookkeeping);</li>
 *   <li>{@code rt_flags}: enqueue, then each stream writes the call's number into pinned host memory
 *       (cuStreamWriteValue64), and the host spins on that memory: no driver call while waiting.</li>
 *   <li>{@code enq_first}, {@code enq_last}: rank 0's enqueue and the last rank's, timed apart (does a launch
 *       cost more while a peer's kernel spins on the device?);</li>
 *   <li>{@code rt_par_flags}: {@code rt_flags} with every rank but 0 enqueued by a spinning thread of its own,
 *       released together with the caller's rank 0 (does launching ranks in parallel pay?).</li>
 * </ul>
 * Ranks are virtual (several on the one GPU): a test of the host path, not a multi-GPU figure.
 * usage: HostPathBench [out-file]
 */
public final class HostPathBench {
    private static final int WARMUP = 20_000;
    private static final int CALLS = 20_000;
    private static final long BYTES = 8 << 10;

    public static void main(String[] args) throws IOException {
        CudaDevice d = CudaDevices.open(0);
        StringBuilder out = new StringBuilder();
        out.append("# host path of one 8 KiB f32 all-reduce, ranks on one GPU (virtual: not a multi-GPU figure); ")
                .append(d.name()).append("; ").append(Instant.now()).append('\n')
                .append("# ").append(CALLS).append(" calls after ").append(WARMUP).append(" warm-up calls; us\n");
        out.append(String.format("%-6s %-12s %9s %9s%n", "ranks", "step", "p50_us", "p99_us"));
        for (int n : new int[]{1, 2, 4}) {
            run(d, n, out);
        }
        System.out.print(out);
        if (args.length > 0) {
            Files.writeString(Path.of(args[0]), out.toString());
        }
    }

    private static void run(CudaDevice d, int n, StringBuilder out) {
        List<CudaStream> streams = new ArrayList<>();
        List<RankContext> ranks = new ArrayList<>();
        List<CudaBuffer> bufs = new ArrayList<>();
        List<CudaEvent> events = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            CudaStream s = d.createStream();
            streams.add(s);
            events.add(d.createEvent());
            ranks.add(new RankContext(r, d, s, null));
            bufs.add(d.allocate(BYTES));
            s.zero(bufs.get(r), 0, BYTES);
        }
        CudaBuffer flags = d.allocatePinnedHost(64L * n);
        GroupContext group = new GroupContext(new CudaTopologyDetector(false, 0).detect(Collections.nCopies(n, d)), ranks,
                ConfigFactory.load().getConfig("cohort"));
        CollectiveBackend backend = new CudaP2pBackendProvider().create(group);
        CollectiveCall call = CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, BYTES / 4);
        Histogram enqueue = histogram(), record = histogram(), query = histogram(), rtEvents = histogram(),
                rtFlags = histogram(), capturing = histogram(), current = histogram(), enqFirst = histogram(),
                enqLast = histogram(), rtPar = histogram();
        long seq = 0;
        try {
            for (int phase = 0; phase < 2; phase++) {   // warm-up, then measured
                int calls = phase == 0 ? WARMUP : CALLS;
                boolean measure = phase == 1;
                for (int i = 0; i < calls; i++) {
                    seq++;
                    long t0 = System.nanoTime();
                    long tFirst = 0, tLast = 0;
                    for (int r = 0; r < n; r++) {
                        long a = System.nanoTime();
                        backend.enqueue(r, seq, call, bufs.get(r), bufs.get(r));
                        long b = System.nanoTime();
                        if (r == 0) {
                            tFirst = b - a;
                        }
                        tLast = b - a;
                    }
                    long t1 = System.nanoTime();
                    for (int r = 0; r < n; r++) {
                        streams.get(r).record(events.get(r));
                    }
                    long t2 = System.nanoTime();
                    for (int r = 0; r < n; r++) {
                        while (!events.get(r).isComplete()) {
                            Thread.onSpinWait();
                        }
                    }
                    long t3 = System.nanoTime();
                    streams.get(0).record(events.get(0));   // recorded anew: the next query asks the driver
                    while (!events.get(0).isComplete()) {
                        Thread.onSpinWait();
                    }
                    long t4 = System.nanoTime();
                    events.get(0).isComplete();
                    long t5 = System.nanoTime();
                    streams.get(0).isCapturing();
                    long t6 = System.nanoTime();
                    d.makeCurrent();
                    long t7 = System.nanoTime();
                    if (measure) {
                        enqFirst.recordValue(tFirst);
                        enqLast.recordValue(tLast);
                        enqueue.recordValue(t1 - t0);
                        record.recordValue(t2 - t1);
                        rtEvents.recordValue(t3 - t0);
                        query.recordValue(t5 - t4);
                        capturing.recordValue(t6 - t5);
                        current.recordValue(t7 - t6);
                    }
                }
                for (int i = 0; i < calls; i++) {
                    seq++;
                    long t0 = System.nanoTime();
                    for (int r = 0; r < n; r++) {
                        backend.enqueue(r, seq, call, bufs.get(r), bufs.get(r));
                        streams.get(r).writeValue(flags, 64L * r, seq);
                    }
                    for (int r = 0; r < n; r++) {
                        while ((long) ValueLayout.JAVA_LONG.varHandle().getVolatile(flags.segment(), 64L * r) < seq) {
                            Thread.onSpinWait();
                        }
                    }
                    long t1 = System.nanoTime();
                    if (measure) {
                        rtFlags.recordValue(t1 - t0);
                    }
                }
            }
            if (n > 1) {
                seq = parallel(backend, call, streams, bufs, flags, n, seq, rtPar);
            }
        } finally {
            backend.close();
            for (int r = 0; r < n; r++) {
                d.free(bufs.get(r));
                streams.get(r).close();
                events.get(r).close();
            }
            d.free(flags);
        }
        for (Object[] row : new Object[][]{{"enqueue", enqueue}, {"record", record}, {"query_cached", query},
                {"isCapturing", capturing}, {"makeCurrent", current}, {"rt_events", rtEvents}, {"rt_flags", rtFlags},
                {"enq_first", enqFirst}, {"enq_last", enqLast}, {"rt_par_flags", rtPar}}) {
            Histogram h = (Histogram) row[1];
            out.append(String.format("%-6d %-12s %9.2f %9.2f%n", n, row[0], h.getValueAtPercentile(50) / 1e3,
                    h.getValueAtPercentile(99) / 1e3));
        }
    }

    /** rt_flags with ranks 1..n-1 enqueued by spinning threads of their own, released with the caller's rank 0. */
    private static long parallel(CollectiveBackend backend, CollectiveCall call, List<CudaStream> streams,
                                 List<CudaBuffer> bufs, CudaBuffer flags, int n, long firstSeq, Histogram rt) {
        java.util.concurrent.atomic.AtomicLong released = new java.util.concurrent.atomic.AtomicLong(firstSeq);
        long last = firstSeq + WARMUP + CALLS;
        List<Thread> helpers = new ArrayList<>();
        for (int r = 1; r < n; r++) {
            int rank = r;
            helpers.add(Thread.ofPlatform().name("rank-" + r).start(() -> {
                for (long s = firstSeq + 1; s <= last; s++) {
                    while (released.get() < s) {
                        Thread.onSpinWait();
                    }
                    backend.enqueue(rank, s, call, bufs.get(rank), bufs.get(rank));
                    streams.get(rank).writeValue(flags, 64L * rank, s);
                }
            }));
        }
        for (long s = firstSeq + 1; s <= last; s++) {
            long t0 = System.nanoTime();
            released.set(s);
            backend.enqueue(0, s, call, bufs.get(0), bufs.get(0));
            streams.get(0).writeValue(flags, 0, s);
            for (int r = 0; r < n; r++) {
                while ((long) ValueLayout.JAVA_LONG.varHandle().getVolatile(flags.segment(), 64L * r) < s) {
                    Thread.onSpinWait();
                }
            }
            long t1 = System.nanoTime();
            if (s > firstSeq + WARMUP) {
                rt.recordValue(t1 - t0);
            }
        }
        for (Thread t : helpers) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return last;
    }

    private static Histogram histogram() {
        return new Histogram(3_600_000_000_000L, 3);
    }
}
