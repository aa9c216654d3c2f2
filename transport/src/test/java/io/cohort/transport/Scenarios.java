package io.cohort.transport;

import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * What the transport tests run on every rank (threads of one JVM or worker processes): each rank derives every
 * rank's inputs from (seed, rank, index), runs the collective, and checks its result against a reference
 * computed here in double precision, independently of the transport's code.
 */
final class Scenarios {

    static final long[] SIZES = {0, 1, 7, 1009, 65537};

    private Scenarios() {
    }

    /** Input element i of rank r: a value in [-1, 1) already representable in {@code type}. */
    static float input(DType type, long seed, int r, long i) {
        long h = (seed * 0x9E3779B97F4A7C15L) ^ (r * 0xC2B2AE3D27D4EB4FL) ^ (i * 0x165667B19E3779F9L);
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        float v = (float) ((h >>> 40) / (double) (1L << 24) * 2.0 - 1.0);
        return type.round(v);
    }

    static void fill(MemorySegment seg, DType type, long seed, int r, long count) {
        for (long i = 0; i < count; i++) {
            type.set(seg, i, input(type, seed, r, i));
        }
    }

    /** Checks element i of a reduction over ranks 0..n-1 of inputs at index {@code inputIndex}. */
    static void checkReduced(MemorySegment got, long gotIndex, DType type, ReduceOp op, long seed, int n,
                             long inputIndex, String what) {
        double sum = 0;
        double abs = 0;
        double max = Double.NEGATIVE_INFINITY;
        double min = Double.POSITIVE_INFINITY;
        for (int r = 0; r < n; r++) {
            double x = input(type, seed, r, inputIndex);
            sum += x;
            abs += Math.abs(x);
            max = Math.max(max, x);
            min = Math.min(min, x);
        }
        double value = type.get(got, gotIndex);
        double u = type.unitRoundoff();
        double expected;
        double tol;
        switch (op) {
            case SUM -> {
                expected = sum;
                tol = 2 * n * u * abs + 1e-30;
            }
            case AVG -> {
                expected = sum / n;
                tol = 2 * n * u * abs / n + 2 * u * Math.abs(expected) + 1e-30;
            }
            case MAX -> {
                expected = max;
                tol = 0;
            }
            case MIN -> {
                expected = min;
                tol = 0;
            }
            default -> throw new IllegalStateException();
        }
        if (!(Math.abs(value - expected) <= tol)) {
            throw new AssertionError(what + ": element " + gotIndex + " is " + value + ", expected " + expected
                    + " (tolerance " + tol + ")");
        }
    }

    static void checkInput(MemorySegment got, long gotIndex, DType type, long seed, int r, long inputIndex, String what) {
        float value = type.get(got, gotIndex);
        float expected = input(type, seed, r, inputIndex);
        if (Float.floatToRawIntBits(value) != Float.floatToRawIntBits(expected)) {
            throw new AssertionError(what + ": element " + gotIndex + " is " + value + ", expected " + expected
                    + " (rank " + r + "'s element " + inputIndex + ")");
        }
    }

    /** All-reduce of every dtype, op and size in {@code sizes}, in place and out of place. */
    static int allReduceSweep(ProcessGroup g, long[] sizes, ReduceOp[] ops) {
        int cases = 0;
        int n = g.size();
        try (Arena arena = Arena.ofConfined()) {
            long max = 0;
            for (long s : sizes) {
                max = Math.max(max, s);
            }
            MemorySegment send = arena.allocate(Math.max(1, max * 4), 64);
            MemorySegment recv = arena.allocate(Math.max(1, max * 4), 64);
            long seed = 1;
            for (DType type : DType.values()) {
                for (ReduceOp op : ops) {
                    for (long count : sizes) {
                        seed++;
                        boolean inPlace = (seed & 1) == 0;
                        fill(send, type, seed, g.rank(), count);
                        if (inPlace) {
                            g.allReduce(send, type, op, count);
                        } else {
                            g.allReduce(send, recv, type, op, count);
                        }
                        MemorySegment out = inPlace ? send : recv;
                        String what = "rank " + g.rank() + " all-reduce " + type + " " + op + " x" + count
                                + (inPlace ? " in place" : "");
                        for (long i = 0; i < count; i++) {
                            checkReduced(out, i, type, op, seed, n, i, what);
                        }
                        if (!inPlace) {
                            for (long i = 0; i < count; i++) {
                                checkInput(send, i, type, seed, g.rank(), i, what + " (send must be untouched)");
                            }
                        }
                        cases++;
                    }
                }
            }
        }
        return cases;
    }

    /** Reduce-scatter, all-gather, broadcast (every root), reduce (every root), barrier. */
    static int otherCollectives(ProcessGroup g, long[] sizes) {
        int cases = 0;
        int n = g.size();
        int me = g.rank();
        try (Arena arena = Arena.ofConfined()) {
            long max = 0;
            for (long s : sizes) {
                max = Math.max(max, s);
            }
            MemorySegment send = arena.allocate(Math.max(1, max * 4 * n), 64);
            MemorySegment recv = arena.allocate(Math.max(1, max * 4 * n), 64);
            long seed = 1000;
            for (DType type : DType.values()) {
                for (long count : sizes) {
                    ReduceOp op = ReduceOp.values()[(int) (seed % 4)];
                    seed++;
                    fill(send, type, seed, me, count * n);
                    g.reduceScatter(send, recv, type, op, count);
                    for (long i = 0; i < count; i++) {
                        checkReduced(recv, i, type, op, seed, n, me * count + i, "reduce-scatter " + type + " " + op + " x" + count);
                    }
                    cases++;

                    seed++;
                    fill(send, type, seed, me, count);
                    g.allGather(send, recv, type, count);
                    for (int r = 0; r < n; r++) {
                        for (long i = 0; i < count; i++) {
                            checkInput(recv, r * count + i, type, seed, r, i, "all-gather " + type + " x" + count);
                        }
                    }
                    cases++;

                    for (int root = 0; root < n; root++) {
                        seed++;
                        if (me == root) {
                            fill(recv, type, seed, root, count);
                        } else {
                            recv.fill((byte) 0x7f);
                        }
                        g.broadcast(recv, type, count, root);
                        for (long i = 0; i < count; i++) {
                            checkInput(recv, i, type, seed, root, i, "broadcast from " + root + " " + type + " x" + count);
                        }
                        cases++;

                        seed++;
                        fill(send, type, seed, me, count);
                        recv.fill((byte) 0x11);
                        g.reduce(send, recv, type, op, count, root);
                        for (long i = 0; i < count; i++) {
                            if (me == root) {
                                checkReduced(recv, i, type, op, seed, n, i, "reduce to " + root + " " + type + " x" + count);
                            } else if (recv.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i * type.bytes()) != 0x11) {
                                throw new AssertionError("reduce to " + root + " wrote recv of rank " + me);
                            }
                        }
                        cases++;
                    }
                    g.barrier();
                    cases++;
                }
            }
        }
        return cases;
    }
}
