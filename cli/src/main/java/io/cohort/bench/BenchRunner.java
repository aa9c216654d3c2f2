package io.cohort.bench;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.Tensor;
import io.cohort.group.CollectiveResult;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Runs a {@link BenchSpec} through the embedded API: one group per backend x algorithm on the same devices,
 * buffers allocated once per dtype at the largest size, then per case and group:
 * <ol>
 *   <li>warm-up, one call at a time, until the path is compiled ({@link BenchSpec#warmup()});</li>
 *   <li>latency: calls one at a time, each timed from the API call to work enqueued (enq) and to the result
 *       back in the caller (rt), reported as p50 (table) and p99 (CSV);</li>
 *   <li>out of place: {@code iters} collectives issued back to back without waiting (nccl-tests' time; one
 *       untimed round first), then a checked run against the reference;</li>
 *   <li>in place (send = recv), where the collective has that form: the same.</li>
 * </ol>
 */
public final class BenchRunner {

    private record Variant(String label, CohortGroup group) {
    }

    private final Cohort cohort;
    private final List<Device> devices;
    private final BenchSpec spec;
    private final PrintWriter out;

    public BenchRunner(Cohort cohort, List<Device> devices, BenchSpec spec, PrintWriter out) {
        spec.checkRanks(devices.size());
        this.cohort = cohort;
        this.devices = List.copyOf(devices);
        this.spec = spec;
        this.out = out;
    }

    /** Runs everything, printing the table as it goes; returns the rows. */
    public List<BenchRow> run(ProgressBar progress) {
        int n = devices.size();
        List<Variant> variants = openGroups();
        List<BenchRow> rows = new ArrayList<>();
        CohortGroup first = variants.getFirst().group();
        try (TensorIo io = new TensorIo()) {
            for (Collective c : spec.collectives()) {
                out.printf("#%n# %s, %d ranks%n", c.cliName(), n);
                BenchTable.header(out);
                for (DType dtype : spec.dtypes()) {
                    long maxCount = Math.max(n, spec.maxBytes() / dtype.bytes());
                    List<Tensor> send = first.allocate(dtype, maxCount);
                    List<Tensor> recv = first.allocate(dtype, maxCount);
                    try {
                        for (ReduceOp op : spec.opsOf(c)) {
                            for (long size : spec.sizes()) {
                                CollectiveCall call = callFor(c, dtype, op, size, n);
                                if (call != null) {
                                    for (Variant v : variants) {
                                        measureAndPrint(v, call, send, recv, io, rows);
                                    }
                                }
                                progress.step(c.cliName() + " " + dtype.name().toLowerCase(Locale.ROOT) + " " + size);
                            }
                        }
                    } finally {
                        first.release(send);
                        first.release(recv);
                    }
                }
            }
        } finally {
            variants.forEach(v -> v.group().close());
        }
        BenchTable.summary(out, rows);
        return rows;
    }

    /** How many progress steps {@link #run} takes. */
    public int steps() {
        int steps = 0;
        for (Collective c : spec.collectives()) {
            steps += spec.dtypes().size() * spec.opsOf(c).size() * spec.sizes().size();
        }
        return steps;
    }

    private void measureAndPrint(Variant v, CollectiveCall call, List<Tensor> send, List<Tensor> recv, TensorIo io,
                                 List<BenchRow> rows) {
        try {
            BenchRow row = measure(v, call, send, recv, io);
            rows.add(row);
            BenchTable.row(out, row);
        } catch (CohortException | CompletionException e) {
            Throwable cause = e instanceof CompletionException ce && ce.getCause() != null ? ce.getCause() : e;
            out.printf("# %s %s %d elements on %s FAILED: %s%n", call.collective().cliName(),
                    call.dtype().name().toLowerCase(Locale.ROOT), call.count(), v.label(), cause.getMessage());
        }
    }

    private List<Variant> openGroups() {
        List<Variant> variants = new ArrayList<>();
        for (BackendKind b : spec.backends()) {
            for (String alg : spec.algorithms()) {
                String label = b.cliName() + (alg.equals("auto") ? "" : "/" + alg);
                try {
                    CohortGroup g = cohort.group(devices, b, ConfigFactory.empty()
                            .withValue("algorithm.force", ConfigValueFactory.fromAnyRef(alg.equals("auto") ? "none" : alg)));
                    out.printf("# %-16s -> %s (%s)%n", label, g.backendChoice().chosen().cliName(), g.backendChoice().reason());
                    variants.add(new Variant(label, g));
                } catch (CohortException e) {
                    out.printf("# %-16s -> unavailable: %s%n", label, e.getMessage());
                }
            }
        }
        if (variants.isEmpty()) {
            throw new CohortException("none of the backends " + spec.backends() + " is available for "
                    + devices.stream().map(Device::name).toList());
        }
        return variants;
    }

    /** The call of {@code size} bytes (nccl-tests' size), or null if it is too small for n ranks. */
    private CollectiveCall callFor(Collective c, DType dtype, ReduceOp op, long size, int n) {
        long total = size / dtype.bytes();
        long perRank = c == Collective.REDUCE_SCATTER || c == Collective.ALL_GATHER ? total / n : total;
        if (perRank == 0) {
            return null;
        }
        return new CollectiveCall(c, dtype, op, perRank, c.rooted() ? spec.root() : 0);
    }

    /** nccl-tests' size of a call: the larger of a rank's send and recv buffers. */
    static long messageBytes(CollectiveCall call, int n) {
        Collective c = call.collective();
        return Math.max(c.sendCount(call.count(), n), c.recvCount(call.count(), n)) * call.dtype().bytes();
    }

    /** Whether {@code c} has an in-place form (send and recv one buffer of the same count). */
    static boolean hasInPlace(Collective c) {
        return c == Collective.ALL_REDUCE || c == Collective.REDUCE || c == Collective.BROADCAST;
    }

    private BenchRow measure(Variant v, CollectiveCall call, List<Tensor> send, List<Tensor> recv, TensorIo io) {
        int n = devices.size();
        CohortGroup g = v.group();
        long start = System.nanoTime();
        for (int i = 0; spec.warmup().more(i, System.nanoTime() - start); i++) {
            g.run(call, send, recv).toCompletableFuture().join();
        }
        BenchSpec.Budget budget = spec.latency();
        long[] enqueue = new long[Math.max(3, budget.calls())];
        long[] roundTrip = new long[enqueue.length];
        int samples = 0;
        start = System.nanoTime();
        while (samples < enqueue.length && budget.more(samples, System.nanoTime() - start)) {
            long t0 = System.nanoTime();
            CollectiveResult r = g.run(call, send, recv).toCompletableFuture().join();
            roundTrip[samples] = System.nanoTime() - t0;
            enqueue[samples] = r.enqueueNanos();
            samples++;
        }
        CollectiveResult last = g.run(call, send, recv).toCompletableFuture().join();
        BenchRow.Run outOfPlace = timedAndChecked(g, call, send, recv, io);
        BenchRow.Run inPlace = null;
        if (hasInPlace(call.collective())) {
            for (int i = 0; i < 3; i++) {
                g.run(call, send, send).toCompletableFuture().join();
            }
            inPlace = timedAndChecked(g, call, send, send, io);
        }
        long bytes = messageBytes(call, n);
        return new BenchRow(call.collective(), bytes, bytes / call.dtype().bytes(),
                call.dtype().name().toLowerCase(Locale.ROOT),
                call.collective().reduces() ? call.op().name().toLowerCase(Locale.ROOT) : "none",
                call.collective().rooted() ? call.root() : -1, v.label(), last.backend().cliName(), last.algorithm(), outOfPlace,
                inPlace, BenchRow.Latency.of(enqueue, samples), BenchRow.Latency.of(roundTrip, samples));
    }

    /** {@code iters} calls back to back, then one checked call against the reference. */
    private BenchRow.Run timedAndChecked(CohortGroup g, CollectiveCall call, List<Tensor> send, List<Tensor> recv,
                                         TensorIo io) {
        int n = devices.size();
        List<CompletableFuture<CollectiveResult>> runs = new ArrayList<>(spec.iters());
        // one untimed round first: back-to-back calls complete on the completion thread, a path the calls made
        // one at a time (finished while the caller waits) do not warm
        for (int i = 0; i < spec.iters(); i++) {
            runs.add(g.run(call, send, recv).toCompletableFuture());
        }
        CompletableFuture.allOf(runs.toArray(CompletableFuture[]::new)).join();
        runs.clear();
        long start = System.nanoTime();
        for (int i = 0; i < spec.iters(); i++) {
            runs.add(g.run(call, send, recv).toCompletableFuture());
        }
        CompletableFuture.allOf(runs.toArray(CompletableFuture[]::new)).join();
        double timeMicros = (System.nanoTime() - start) / 1e3 / spec.iters();
        long sendCount = call.collective().sendCount(call.count(), n);
        long recvCount = call.collective().recvCount(call.count(), n);
        Verifier.prepare(io, call.dtype(), send, sendCount, recv, recvCount);
        g.run(call, send, recv).toCompletableFuture().join();
        long wrong = Verifier.countWrong(io, call, recv);
        double algBw = messageBytes(call, n) / timeMicros / 1e3;
        return new BenchRow.Run(timeMicros, algBw, algBw * call.collective().busBandwidthFactor(n), wrong);
    }
}
