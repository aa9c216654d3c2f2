package io.cohort.cuda.nccl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import io.cohort.core.DType;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A stand-in for libnccl: logs every call into a shared log, hands out fake communicator handles and, once
 * every rank of a communicator set has issued its k-th collective, carries it out on the (host) memory behind
 * the buffer addresses. It decodes datatype and operator codes with its own table (the values of nccl.h), so a
 * wrong mapping in the backend shows up as a wrong result. Results of calls can be forced to test error paths.
 */
class FakeNccl implements NcclApi {

    record Comm(long handle, int rank, int nranks, int device, int clique) {
    }

    record Call(String name, long send, long recv, long count, int datatype, int op, int root, long comm, long stream) {
    }

    final List<String> log;
    int versionCode = 22803;
    /** Result every collective call returns from now on (0: success). */
    int collectiveResult;
    int groupEndResult;
    String lastError = "";
    final Map<Long, Comm> comms = new HashMap<>();
    final Map<Long, Integer> asyncErrors = new HashMap<>();
    final List<Long> destroyed = new ArrayList<>();
    final List<Long> aborted = new ArrayList<>();
    final List<Call> collectives = new ArrayList<>();
    int groupDepth;
    private long nextHandle = 0xC000;
    private int nextClique;
    private final Map<Integer, Map<Integer, ArrayDeque<Call>>> queues = new HashMap<>();

    FakeNccl(List<String> log) {
        this.log = log;
    }

    private synchronized void log(String line) {
        log.add(line);
    }

    @Override
    public int getVersion(MemorySegment versionOut) {
        versionOut.set(JAVA_INT, 0, versionCode);
        return 0;
    }

    @Override
    public int getUniqueId(MemorySegment uniqueIdOut) {
        for (int i = 0; i < NcclUniqueId.BYTES; i++) {
            uniqueIdOut.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 1));
        }
        log("ncclGetUniqueId");
        return 0;
    }

    @Override
    public synchronized int commInitRank(MemorySegment commOut, int nranks, MemorySegment uniqueId, int rank) {
        long h = nextHandle++;
        NcclUniqueId id = NcclUniqueId.read(uniqueId);
        comms.put(h, new Comm(h, rank, nranks, rank, id.hashCode()));
        commOut.set(ADDRESS, 0, MemorySegment.ofAddress(h));
        log("ncclCommInitRank(rank=" + rank + ", nranks=" + nranks + ", id=" + id.toBase64().substring(0, 8) + ")");
        return 0;
    }

    @Override
    public synchronized int commInitAll(MemorySegment commsOut, int ndev, MemorySegment devList) {
        int clique = nextClique++;
        StringBuilder devs = new StringBuilder();
        for (int i = 0; i < ndev; i++) {
            long h = nextHandle++;
            int dev = devList.getAtIndex(JAVA_INT, i);
            comms.put(h, new Comm(h, i, ndev, dev, clique));
            commsOut.setAtIndex(ADDRESS, i, MemorySegment.ofAddress(h));
            devs.append(i == 0 ? "" : ",").append(dev);
        }
        log("ncclCommInitAll(" + devs + ")");
        return 0;
    }

    @Override
    public synchronized int groupStart() {
        groupDepth++;
        log("ncclGroupStart");
        return 0;
    }

    @Override
    public synchronized int groupEnd() {
        groupDepth--;
        log("ncclGroupEnd");
        return groupEndResult;
    }

    @Override
    public int allReduce(long send, long recv, long count, int datatype, int op, long comm, long stream) {
        return collective(new Call("ncclAllReduce", send, recv, count, datatype, op, -1, comm, stream));
    }

    @Override
    public int broadcast(long send, long recv, long count, int datatype, int root, long comm, long stream) {
        return collective(new Call("ncclBroadcast", send, recv, count, datatype, -1, root, comm, stream));
    }

    @Override
    public int reduce(long send, long recv, long count, int datatype, int op, int root, long comm, long stream) {
        return collective(new Call("ncclReduce", send, recv, count, datatype, op, root, comm, stream));
    }

    @Override
    public int reduceScatter(long send, long recv, long recvCount, int datatype, int op, long comm, long stream) {
        return collective(new Call("ncclReduceScatter", send, recv, recvCount, datatype, op, -1, comm, stream));
    }

    @Override
    public int allGather(long send, long recv, long sendCount, int datatype, long comm, long stream) {
        return collective(new Call("ncclAllGather", send, recv, sendCount, datatype, -1, -1, comm, stream));
    }

    private synchronized int collective(Call call) {
        Comm c = comms.get(call.comm());
        log(call.name() + "(rank=" + (c == null ? "?" : c.rank()) + ", count=" + call.count() + ", stream="
                + call.stream() + ")");
        if (collectiveResult != 0) {
            return collectiveResult;
        }
        if (c == null) {
            return NcclResult.INVALID_ARGUMENT.code();
        }
        collectives.add(call);
        var byRank = queues.computeIfAbsent(c.clique(), k -> new HashMap<>());
        byRank.computeIfAbsent(c.rank(), k -> new ArrayDeque<>()).add(call);
        if (byRank.size() == c.nranks() && byRank.values().stream().noneMatch(ArrayDeque::isEmpty)) {
            Call[] parts = new Call[c.nranks()];
            for (int r = 0; r < parts.length; r++) {
                parts[r] = byRank.get(r).poll();
            }
            execute(parts);
        }
        return 0;
    }

    /** Carries out one collective over all ranks' parts; reads every input before writing any output. */
    private static void execute(Call[] parts) {
        int n = parts.length;
        Call p0 = parts[0];
        DType t = switch (p0.datatype()) {
            case 6 -> DType.F16;
            case 7 -> DType.F32;
            case 9 -> DType.BF16;
            default -> throw new AssertionError("datatype " + p0.datatype());
        };
        long count = p0.count();
        float[][] out = new float[n][];
        switch (p0.name()) {
            case "ncclAllReduce", "ncclReduce" -> {
                float[] r = reduce(parts, t, count, 0);
                for (int q = 0; q < n; q++) {
                    out[q] = p0.name().equals("ncclReduce") && q != p0.root() ? null : r;
                }
            }
            case "ncclReduceScatter" -> {
                for (int q = 0; q < n; q++) {
                    out[q] = reduce(parts, t, count, q * count);
                }
            }
            case "ncclBroadcast" -> {
                float[] r = read(parts[p0.root()].send(), t, 0, count);
                java.util.Arrays.fill(out, r);
            }
            case "ncclAllGather" -> {
                float[] all = new float[(int) (count * n)];
                for (int q = 0; q < n; q++) {
                    System.arraycopy(read(parts[q].send(), t, 0, count), 0, all, (int) (q * count), (int) count);
                }
                java.util.Arrays.fill(out, all);
            }
            default -> throw new AssertionError(p0.name());
        }
        for (int q = 0; q < n; q++) {
            if (out[q] != null) {
                MemorySegment m = MemorySegment.ofAddress(parts[q].recv()).reinterpret(out[q].length * (long) t.bytes());
                for (int i = 0; i < out[q].length; i++) {
                    t.set(m, i, out[q][i]);
                }
            }
        }
    }

    private static float[] reduce(Call[] parts, DType t, long count, long offset) {
        int op = parts[0].op();
        float[] acc = read(parts[0].send(), t, offset, count);
        for (int q = 1; q < parts.length; q++) {
            float[] x = read(parts[q].send(), t, offset, count);
            for (int i = 0; i < acc.length; i++) {
                acc[i] = switch (op) {
                    case 0, 4 -> acc[i] + x[i];
                    case 2 -> Math.max(acc[i], x[i]);
                    case 3 -> Math.min(acc[i], x[i]);
                    default -> throw new AssertionError("op " + op);
                };
            }
        }
        if (op == 4) {
            for (int i = 0; i < acc.length; i++) {
                acc[i] /= parts.length;
            }
        }
        return acc;
    }

    private static float[] read(long address, DType t, long offset, long count) {
        MemorySegment m = MemorySegment.ofAddress(address).reinterpret((offset + count) * t.bytes());
        float[] v = new float[(int) count];
        for (int i = 0; i < count; i++) {
            v[i] = t.get(m, offset + i);
        }
        return v;
    }

    @Override
    public synchronized int commGetAsyncError(long comm, MemorySegment resultOut) {
        resultOut.set(JAVA_INT, 0, asyncErrors.getOrDefault(comm, 0));
        return 0;
    }

    @Override
    public synchronized int commAbort(long comm) {
        aborted.add(comm);
        log("ncclCommAbort(" + comms.get(comm).rank() + ")");
        return 0;
    }

    @Override
    public synchronized int commDestroy(long comm) {
        destroyed.add(comm);
        log("ncclCommDestroy(" + comms.get(comm).rank() + ")");
        return 0;
    }

    @Override
    public synchronized int commCount(long comm, MemorySegment countOut) {
        countOut.set(JAVA_INT, 0, comms.get(comm).nranks());
        return 0;
    }

    @Override
    public synchronized int commCuDevice(long comm, MemorySegment deviceOut) {
        deviceOut.set(JAVA_INT, 0, comms.get(comm).device());
        return 0;
    }

    @Override
    public synchronized int commUserRank(long comm, MemorySegment rankOut) {
        rankOut.set(JAVA_INT, 0, comms.get(comm).rank());
        return 0;
    }

    @Override
    public String getErrorString(int result) {
        return switch (result) {
            case 4 -> "invalid argument (run with NCCL_DEBUG=WARN for details)";
            case 6 -> "remote process exited or there was a network error";
            default -> "fake error " + result;
        };
    }

    @Override
    public String getLastError(long comm) {
        return lastError;
    }
}
