package io.cohort.plan;

import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.topology.Topology;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Runs a {@link Plan} on float arrays, one set of buffers per rank, under an arbitrary interleaving of the
 * ranks' step lists that honours Signal/Wait, and checks every rule a real executor relies on:
 *
 * <ul>
 *   <li>a step of rank r touches only r's buffers, STAGING of any rank, and buffers of peers r has P2P to;</li>
 *   <li>accesses stay inside the buffers (send/recv sized per {@link Collective}; a non-root's recv in REDUCE
 *       and a non-root's send in BROADCAST have size 0, as NCCL allows null there; scratch and staging sized
 *       by the plan);</li>
 *   <li>nothing reads memory that was never written in this collective (only send is ready at the start);</li>
 *   <li>no data race: two accesses to one element, at least one a write, by different ranks, must be ordered
 *       by a chain of Signal/Wait (vector clocks, per element). Each rank's start counts as a write of all
 *       its buffers (they were produced by the caller's earlier work) and its end as one too (the caller or
 *       the next collective may reuse them), so peers must wait before touching a rank's memory and the rank
 *       must wait for them before it finishes;</li>
 *   <li>no deadlock: if no rank can step while some are unfinished, the blocked waits are reported.</li>
 * </ul>
 *
 * With {@code inPlace} (ALL_REDUCE, REDUCE, BROADCAST) each rank's send and recv are one array, so a plan
 * that reads send after overwriting recv yields wrong results. Values are combined in float with
 * {@link ReduceOp#combine} and rounded to {@code dtype} after every write, as a device would; a Scale
 * multiplies by (float) (1.0 / ranks) and applies only for AVG. Meant for tests and {@code cohort topo
 * --explain}: it is per-element bookkeeping, not fast.
 */
public final class PlanSimulator {

    /** What a run produced: recv of each rank (empty where the collective writes none). */
    public record Outcome(float[][] recv, int stepsExecuted) {
        public float[] recvOf(int rank) {
            return recv[rank];
        }
    }

    private static final int SEND = 0;
    private static final int RECV = 1;
    private static final int SCRATCH = 2;
    private static final int STAGING = 3;

    private final Plan plan;
    private final Topology topology;

    public PlanSimulator(Plan plan, Topology topology) {
        if (plan.ranks() != topology.size()) {
            throw new PlanException("plan for " + plan.ranks() + " ranks on a topology of " + topology.size());
        }
        this.plan = plan;
        this.topology = topology;
    }

    /** Runs with a random schedule drawn from {@code seed}. {@code send[r]} must hold rank r's send buffer. */
    public Outcome run(float[][] send, ReduceOp op, DType dtype, boolean inPlace, long seed) {
        return new Run(send, op, dtype, inPlace, new Random(seed)).execute();
    }

    /** Memory of one buffer of one rank with its race-detection state. */
    private static final class Memory {
        final float[] values;
        final boolean[] defined;
        /** Epoch of the last write: rank << 32 | clock. */
        final long[] lastWrite;
        /** lastRead[e * n + q]: clock of rank q's last read of element e (0: none since the last write). */
        final int[] lastRead;

        Memory(int n, int length, int owner) {
            values = new float[length];
            Arrays.fill(values, Float.NaN);
            defined = new boolean[length];
            lastWrite = new long[length];
            Arrays.fill(lastWrite, ((long) owner << 32) | 1L); // the rank's start wrote it
            lastRead = new int[length * n];
        }
    }

    private final class Run {
        final int n = plan.ranks();
        final ReduceOp op;
        final DType dtype;
        final Random random;
        /** memory[rank][slot]; send and recv may be the same object (in place). */
        final Memory[][] memory;
        /** Accessible length per rank and slot (may be shorter than the memory, e.g. 0). */
        final long[][] limit;
        final int[][] clock;
        final int[][][] published;
        final int[] pc = new int[n];

        Run(float[][] send, ReduceOp op, DType dtype, boolean inPlace, Random random) {
            this.op = op;
            this.dtype = dtype;
            this.random = random;
            Collective c = plan.collective();
            if (inPlace && !(c == Collective.ALL_REDUCE || c == Collective.REDUCE || c == Collective.BROADCAST)) {
                throw new PlanException(c + " has no in-place form");
            }
            if (send.length != n) {
                throw new PlanException("need send data for " + n + " ranks, got " + send.length);
            }
            memory = new Memory[n][4];
            limit = new long[n][4];
            clock = new int[n][n];
            published = new int[n][][];
            long sendCount = c.sendCount(plan.count(), n);
            long recvCount = c.recvCount(plan.count(), n);
            for (int r = 0; r < n; r++) {
                boolean root = r == plan.root();
                limit[r][SEND] = c == Collective.BROADCAST && !root ? 0 : sendCount;
                limit[r][RECV] = c == Collective.REDUCE && !root ? 0 : recvCount;
                limit[r][SCRATCH] = plan.scratchElements();
                limit[r][STAGING] = plan.stagingElements();
                if (send[r].length < limit[r][SEND]) {
                    throw new PlanException("rank " + r + " send data has " + send[r].length + " elements, needs "
                            + limit[r][SEND]);
                }
                Memory sendMemory = new Memory(n, (int) Math.max(sendCount, recvCount), r);
                for (int e = 0; e < limit[r][SEND]; e++) {
                    sendMemory.values[e] = dtype.round(send[r][e]);
                    sendMemory.defined[e] = true;
                }
                memory[r][SEND] = sendMemory;
                memory[r][RECV] = inPlace ? sendMemory : new Memory(n, (int) recvCount, r);
                memory[r][SCRATCH] = new Memory(n, (int) plan.scratchElements(), r);
                memory[r][STAGING] = new Memory(n, (int) plan.stagingElements(), r);
                clock[r][r] = 1;
                int signals = (int) plan.stepsOf(r).stream().filter(s -> s instanceof Step.Signal).count();
                published[r] = new int[signals + 1][];
            }
        }

        Outcome execute() {
            int executed = 0;
            List<Integer> runnable = new ArrayList<>();
            while (true) {
                runnable.clear();
                boolean unfinished = false;
                for (int r = 0; r < n; r++) {
                    if (pc[r] < plan.stepsOf(r).size()) {
                        unfinished = true;
                        if (canRun(r, plan.stepsOf(r).get(pc[r]))) {
                            runnable.add(r);
                        }
                    }
                }
                if (!unfinished) {
                    break;
                }
                if (runnable.isEmpty()) {
                    throw new PlanException("deadlock in " + plan.algorithm() + " " + plan.collective() + ": "
                            + blocked());
                }
                int r = runnable.get(random.nextInt(runnable.size()));
                step(r, plan.stepsOf(r).get(pc[r]));
                pc[r]++;
                clock[r][r]++;
                executed++;
            }
            checkEnds();
            float[][] recv = new float[n][];
            for (int r = 0; r < n; r++) {
                recv[r] = Arrays.copyOf(memory[r][RECV].values, (int) limit[r][RECV]);
            }
            return new Outcome(recv, executed);
        }

        boolean canRun(int r, Step step) {
            if (step instanceof Step.Wait(int peer, int tag)) {
                if (peer < 0 || peer >= n || peer == r) {
                    throw new PlanException("rank " + r + " step " + pc[r] + " waits on rank " + peer);
                }
                return tag >= 0 && tag < published[peer].length && published[peer][tag] != null;
            }
            return true;
        }

        String blocked() {
            StringBuilder sb = new StringBuilder();
            for (int r = 0; r < n; r++) {
                if (pc[r] < plan.stepsOf(r).size()) {
                    sb.append("rank ").append(r).append(" at step ").append(pc[r]).append(' ')
                            .append(plan.stepsOf(r).get(pc[r])).append("; ");
                }
            }
            return sb.toString();
        }

        void step(int r, Step step) {
            switch (step) {
                case Step.Copy(BufferRef src, BufferRef dst, long count) -> {
                    float[] v = read(r, src, count);
                    write(r, dst, v);
                }
                case Step.Reduce(BufferRef a, BufferRef b, BufferRef dst, long count) -> {
                    float[] x = read(r, a, count);
                    float[] y = read(r, b, count);
                    ReduceOp pairwise = op.pairwise();
                    for (int i = 0; i < x.length; i++) {
                        x[i] = pairwise.combine(x[i], y[i]);
                    }
                    write(r, dst, x);
                }
                case Step.Scale(BufferRef buf, long count) -> {
                    float[] x = read(r, buf, count);
                    if (op == ReduceOp.AVG) {
                        float factor = (float) (1.0 / n);
                        for (int i = 0; i < x.length; i++) {
                            x[i] *= factor;
                        }
                    }
                    write(r, buf, x);
                }
                case Step.Signal(int tag) -> {
                    if (tag < 0 || tag >= published[r].length) {
                        throw new PlanException("rank " + r + " signals tag " + tag + " outside 0.."
                                + (published[r].length - 1) + " (tags must be dense from 0)");
                    }
                    if (published[r][tag] != null) {
                        throw new PlanException("rank " + r + " signals tag " + tag + " twice");
                    }
                    published[r][tag] = clock[r].clone();
                }
                case Step.Wait(int peer, int tag) -> {
                    int[] snap = published[peer][tag];
                    for (int q = 0; q < n; q++) {
                        clock[r][q] = Math.max(clock[r][q], snap[q]);
                    }
                }
            }
        }

        Memory resolve(int r, BufferRef ref, long count) {
            int owner = ref.rank();
            if (owner >= n) {
                throw new PlanException("rank " + r + " step " + pc[r] + " touches " + ref + " of a rank outside 0.."
                        + (n - 1));
            }
            int slot = ref.slot().ordinal();
            if (owner != r && ref.slot() != Slot.STAGING && !topology.p2p(r, owner)) {
                throw new PlanException("rank " + r + " step " + pc[r] + " touches " + ref + " but "
                        + topology.deviceNames().get(r) + " has no P2P to " + topology.deviceNames().get(owner));
            }
            if (ref.offset() + count > limit[owner][slot]) {
                throw new PlanException("rank " + r + " step " + pc[r] + " touches " + count + " elements at " + ref
                        + " beyond its " + limit[owner][slot] + " elements");
            }
            return memory[owner][slot];
        }

        float[] read(int r, BufferRef ref, long count) {
            Memory m = resolve(r, ref, count);
            float[] out = new float[(int) count];
            for (int i = 0; i < count; i++) {
                int e = (int) (ref.offset() + i);
                if (!m.defined[e]) {
                    throw new PlanException("rank " + r + " step " + pc[r] + " " + plan.stepsOf(r).get(pc[r])
                            + " reads " + ref.plus(i) + ", never written in this collective");
                }
                long w = m.lastWrite[e];
                if (!ordered(r, w)) {
                    throw race(r, ref.plus(i), "reads", "written", (int) (w >>> 32));
                }
                int idx = e * n + r;
                m.lastRead[idx] = Math.max(m.lastRead[idx], clock[r][r]);
                out[i] = m.values[e];
            }
            return out;
        }

        void write(int r, BufferRef ref, float[] v) {
            Memory m = resolve(r, ref, v.length);
            for (int i = 0; i < v.length; i++) {
                int e = (int) (ref.offset() + i);
                if (!ordered(r, m.lastWrite[e])) {
                    throw race(r, ref.plus(i), "writes", "written", (int) (m.lastWrite[e] >>> 32));
                }
                for (int q = 0; q < n; q++) {
                    int readClock = m.lastRead[e * n + q];
                    if (q != r && readClock > clock[r][q]) {
                        throw race(r, ref.plus(i), "writes", "read", q);
                    }
                    m.lastRead[e * n + q] = 0;
                }
                m.values[e] = dtype.round(v[i]);
                m.defined[e] = true;
                m.lastWrite[e] = ((long) r << 32) | clock[r][r];
            }
        }

        /** Whether the access of epoch {@code epoch} happens before rank r's current step. */
        boolean ordered(int r, long epoch) {
            int who = (int) (epoch >>> 32);
            int at = (int) epoch;
            return who == r || at <= clock[r][who];
        }

        PlanException race(int r, BufferRef where, String verb, String other, int by) {
            return new PlanException("race in " + plan.algorithm() + " " + plan.collective() + ": rank " + r
                    + " step " + pc[r] + " (" + plan.stepsOf(r).get(pc[r]) + ") " + verb + " " + where
                    + " that rank " + by + " " + other + " without a Signal/Wait ordering them");
        }

        /** Every peer's access to a rank's memory must happen before that rank's plan ends. */
        void checkEnds() {
            for (int p = 0; p < n; p++) {
                for (int slot = 0; slot < 4; slot++) {
                    Memory m = memory[p][slot];
                    for (int e = 0; e < m.values.length; e++) {
                        int writer = (int) (m.lastWrite[e] >>> 32);
                        if (!ordered(p, m.lastWrite[e])) {
                            throw endRace(p, slot, e, writer, "write");
                        }
                        for (int q = 0; q < n; q++) {
                            if (q != p && m.lastRead[e * n + q] > clock[p][q]) {
                                throw endRace(p, slot, e, q, "read");
                            }
                        }
                    }
                }
            }
        }

        PlanException endRace(int p, int slot, int e, int q, String what) {
            return new PlanException("race in " + plan.algorithm() + " " + plan.collective() + ": rank " + p
                    + " may finish while rank " + q + "'s " + what + " of " + new BufferRef(p, Slot.values()[slot], e)
                    + " is still in flight (rank " + p + " needs a Wait on rank " + q + " after it)");
        }
    }
}
