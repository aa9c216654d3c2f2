package io.cohort.nn.cuda;

import io.cohort.cuda.CudaDevice;
import io.cohort.cuda.CudaEvent;
import io.cohort.cuda.CudaStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Device time per kernel of one stream, for profiling a step (`cohort model bench --profile`): a timing event
 * before and after every launch, read once the step is done. Kernel times add up to less than the span; the
 * rest is the device idle between launches (launch latency, host work). The events themselves cost the
 * device about a microsecond each, so the span is a little longer than without them. Never on by default.
 */
public final class KernelTimeline implements AutoCloseable {
    private final CudaStream stream;
    private final CudaEvent[] before;
    private final CudaEvent[] after;
    private final String[] names;
    private int count;
    private int dropped;

    public KernelTimeline(CudaDevice device, CudaStream stream, int capacity) {
        this.stream = stream;
        this.before = new CudaEvent[capacity];
        this.after = new CudaEvent[capacity];
        this.names = new String[capacity];
        for (int i = 0; i < capacity; i++) {
            before[i] = device.createTimingEvent();
            after[i] = device.createTimingEvent();
        }
    }

    /** Before a launch on the timeline's stream; false when full (the launch goes untimed). */
    boolean begin() {
        if (count == before.length) {
            dropped++;
            return false;
        }
        stream.record(before[count]);
        return true;
    }

    /** After the launch that {@link #begin} admitted. */
    void end(String name) {
        stream.record(after[count]);
        names[count++] = name;
    }

    /** One kernel name's share of the step. */
    public record Row(String name, int launches, double microseconds) {
    }

    /** Waits for the step, then the kernels' time per name in order of first launch, and the span. */
    public Report report() {
        Map<String, double[]> byName = new LinkedHashMap<>();
        double kernels = 0;
        if (count > 0) {
            after[count - 1].synchronize();
        }
        for (int i = 0; i < count; i++) {
            double us = after[i].elapsedMillis(before[i]) * 1e3;
            kernels += us;
            double[] acc = byName.computeIfAbsent(names[i], n -> new double[2]);
            acc[0]++;
            acc[1] += us;
        }
        List<Row> rows = new ArrayList<>();
        byName.forEach((n, acc) -> rows.add(new Row(n, (int) acc[0], acc[1])));
        double span = count == 0 ? 0 : after[count - 1].elapsedMillis(before[0]) * 1e3;
        return new Report(rows, kernels, span, count, dropped);
    }

    /** Per-name rows, the kernels' sum and the span from the first launch to the end of the last. */
    public record Report(List<Row> rows, double kernelMicros, double spanMicros, int launches, int untimed) {
        public String render() {
            StringBuilder b = new StringBuilder();
            b.append(String.format(Locale.ROOT, "%-40s %8s %12s %10s %7s%n", "kernel", "launches", "device us",
                    "us/launch", "% span"));
            for (Row r : rows) {
                b.append(String.format(Locale.ROOT, "%-40s %8d %12.1f %10.2f %6.1f%%%n", r.name(), r.launches(),
                        r.microseconds(), r.microseconds() / r.launches(), 100 * r.microseconds() / spanMicros));
            }
            b.append(String.format(Locale.ROOT, "%-40s %8d %12.1f %10s %6.1f%%%n", "all kernels", launches, kernelMicros,
                    "", 100 * kernelMicros / spanMicros));
            b.append(String.format(Locale.ROOT, "%-40s %8s %12.1f %10s %6.1f%%%n", "idle between launches", "",
                    spanMicros - kernelMicros, "", 100 * (spanMicros - kernelMicros) / spanMicros));
            b.append(String.format(Locale.ROOT, "%-40s %8s %12.1f%n", "span (first launch to last end)", "", spanMicros));
            if (untimed > 0) {
                b.append(untimed).append(" launches past the timeline's capacity went untimed\n");
            }
            return b.toString();
        }
    }

    @Override
    public void close() {
        for (int i = 0; i < before.length; i++) {
            before[i].close();
            after[i].close();
        }
    }
}
