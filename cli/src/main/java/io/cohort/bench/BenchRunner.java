package io.cohort.bench;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.cohort.actor.Coordinator;
import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.group.CollectiveResult;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.core.CohortException;
import io.cohort.core.Collective;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.Tensor;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * Runs a {@link BenchSpec} through the embedded API: one group per backend x algorithm on the same devices,
 * buffers allocated once at the largest size, then per size and group: warmup (one call at a time, giving the
 * median host path latency), a timed loop of {@code iters} collectives issued back to back without waiting,
 * and one checked run against the reference.
 */
public final class BenchRunner {

    private record Variant(String label, CohortGroup group) {
    }

    private final Cohort cohort;
    private final List<Device> devices;
    private final BenchSpec spec;
    private final PrintWriter out;

    public BenchRunner(Cohort cohort, List<Device> devices, BenchSpec spec, PrintWriter out) {
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
        long maxCount = Math.max(n, spec.maxBytes() / spec.dtype().bytes());
        List<Tensor> send = first.allocate(spec.dtype(), maxCount);
        List<Tensor> recv = first.allocate(spec.dtype(), maxCount);
        try (TensorIo io = new TensorIo()) {
            for (Collective c : spec.collectives()) {
                out.printf("#%n# %s, %d ranks%n", c.cliName(), n);
                BenchTable.header(out);
                for (long size : spec.sizes()) {
                    CollectiveCall call = callFor(c, size, n);
                    if (call == null) {
                        progress.step(c.cliName() + " " + size);
                        continue;
                    }
                    for (Variant v : variants) {
                        try {
                            BenchRow row = measure(v, call, send, recv, io);
                            rows.add(row);
                            BenchTable.row(out, row);
                        } catch (CohortException | java.util.concurrent.CompletionException e) {
                            Throwable cause = e instanceof java.util.concurrent.CompletionException ce && ce.getCause() != null
                                    ? ce.getCause() : e;
                            out.printf("# %s %d B on %s FAILED: %s%n", c.cliName(), size, v.label(), cause.getMessage());
                        }
                    }
                    progress.step(c.cliName() + " " + size);
                }
            }
        } finally {
            first.release(send);
            first.release(recv);
            variants.forEach(v -> v.group().close());
        }
        if (!rows.isEmpty()) {
            double avg = rows.stream().mapToDouble(BenchRow::busBwGBps).average().orElse(0);
            long wrong = rows.stream().mapToLong(BenchRow::wrong).sum();
            out.printf(Locale.ROOT, "# Out of bounds values : %d %s%n", wrong, wrong == 0 ? "OK" : "FAILED");
            out.printf(Locale.ROOT, "# Avg bus bandwidth    : %.3f GB/s%n", avg);
        }
        out.flush();
        return rows;
    }

    /** How many progress steps {@link #run} takes. */
    public int steps() {
        return spec.collectives().size() * spec.sizes().size();
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
    private CollectiveCall callFor(Collective c, long size, int n) {
        long total = size / spec.dtype().bytes();
        long perRank = c == Collective.REDUCE_SCATTER || c == Collective.ALL_GATHER ? total / n : total;
        if (perRank == 0) {
            return null;
        }
        return new CollectiveCall(c, spec.dtype(), c.reduces() ? spec.op() : ReduceOp.SUM, perRank,
                c.rooted() ? spec.root() : 0);
    }

    private BenchRow measure(Variant v, CollectiveCall call, List<Tensor> send, List<Tensor> recv, TensorIo io) {
        int n = devices.size();
        warmUp(v, call, send, recv);
        // then one call at a time: the host path (enq) and the round trip, without queueing behind other calls
        int probes = Math.max(3, spec.warmup());
        long[] enqueue = new long[LATENCY_PROBES];
        long[] roundTrip = new long[LATENCY_PROBES];
        long budget = System.nanoTime() + LATENCY_BUDGET_NANOS;
        int taken = 0;
        while (taken < LATENCY_PROBES && (taken < probes || System.nanoTime() - budget < 0)) {
            CollectiveResult r = v.group().run(call, send, recv).toCompletableFuture().join();
            enqueue[taken] = r.enqueueNanos();
            roundTrip[taken] = r.elapsedNanos();
            taken++;
        }
        enqueue = java.util.Arrays.copyOf(enqueue, taken);
        roundTrip = java.util.Arrays.copyOf(roundTrip, taken);
        java.util.Arrays.sort(enqueue);
        java.util.Arrays.sort(roundTrip);
        List<CompletableFuture<CollectiveResult>> runs = new ArrayList<>(spec.iters());
        // one untimed round of the timed loop: back-to-back calls complete on the poller's thread, a path the
        // one-at-a-time calls above (finished by the waiting caller) do not warm
        for (int i = 0; i < spec.iters(); i++) {
            runs.add(v.group().run(call, send, recv).toCompletableFuture());
        }
        CompletableFuture.allOf(runs.toArray(CompletableFuture[]::new)).join();
        runs.clear();
        long start = System.nanoTime();
        for (int i = 0; i < spec.iters(); i++) {
            runs.add(v.group().run(call, send, recv).toCompletableFuture());
        }
        CompletableFuture.allOf(runs.toArray(CompletableFuture[]::new)).join();
        double timeMicros = (System.nanoTime() - start) / 1e3 / spec.iters();
        CollectiveResult last = runs.getLast().join();

        long sendCount = call.collective().sendCount(call.count(), n);
        long recvCount = call.collective().recvCount(call.count(), n);
        Verifier.prepare(io, call.dtype(), send, sendCount, recv, recvCount);
        v.group().run(call, send, recv).toCompletableFuture().join();
        long wrong = Verifier.countWrong(io, call, recv);

        long bytes = Coordinator.messageBytes(call, n);
        double algBw = bytes / timeMicros / 1e3;
        return new BenchRow(call.collective(), bytes, bytes / call.dtype().bytes(), call.dtype().name().toLowerCase(Locale.ROOT),
                call.collective().reduces() ? call.op().name().toLowerCase(Locale.ROOT) : "none",
                call.collective().rooted() ? call.root() : -1, last.backend().cliName(), last.algorithm(), timeMicros,
                algBw, algBw * call.collective().busBandwidthFactor(n), wrong, percentile(enqueue, 0.5),
                percentile(enqueue, 0.99), percentile(roundTrip, 0.5), percentile(roundTrip, 0.99));
    }

    /** Round trips, one at a time, at most this many (or as many as fit the budget) for the latency columns. */
    private static final int LATENCY_PROBES = 2_000;
    private static final long LATENCY_BUDGET_NANOS = 500_000_000L;
    /** Warm-up: windows of calls until the median round trip stops improving, within a budget. */
    private static final int WARMUP_WINDOW = 100;
    private static final long WARMUP_BUDGET_NANOS = 1_000_000_000L;

    /**
     * Calls one at a time until the path is compiled: until a window's median round trip is no better than
     * 0.9 of the previous window's twice in a row (the JIT has done its work), at most 1 s (large messages:
     * a few calls), at least {@code --warmup} calls.
     */
    private void warmUp(Variant v, CollectiveCall call, List<Tensor> send, List<Tensor> recv) {
        long deadline = System.nanoTime() + WARMUP_BUDGET_NANOS;
        long[] window = new long[WARMUP_WINDOW];
        long previous = Long.MAX_VALUE;
        int stable = 0;
        int calls = 0;
        while (System.nanoTime() - deadline < 0 && (stable < 2 || calls < spec.warmup())) {
            int i = 0;
            for (; i < WARMUP_WINDOW && System.nanoTime() - deadline < 0; i++) {
                window[i] = v.group().run(call, send, recv).toCompletableFuture().join().elapsedNanos();
            }
            calls += i;
            long[] w = java.util.Arrays.copyOf(window, i);
            java.util.Arrays.sort(w);
            long median = w.length == 0 ? previous : w[w.length / 2];
            stable = median >= 0.9 * previous ? stable + 1 : 0;
            previous = Math.min(previous, median);
        }
    }

    /** The {@code q} quantile of sorted nanoseconds, in microseconds. */
    private static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int at = Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1);
        return sorted[Math.max(0, at)] / 1e3;
    }
}
